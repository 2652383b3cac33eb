"""
A JAX/Flax reference of the RLPD update, timed as a worker of bench/learner_throughput.py.

Written for the benchmark (issue 22) after the structure of ikostrikov/rlpd, the implementation
RLPD's results come from (Ball et al. 2023, arXiv 2302.02948, Alg. 1): a critic ensemble whose
stacked parameters are evaluated with ``jax.vmap`` (rlpd: ``nn.vmap``), one ``jax.jit`` over
the whole update (G critic steps on G slices of one host-sampled batch, then one actor and one
temperature step), Adam from optax, the target as the minimum over a random subset of Z target
critics (only those evaluated), entropy backup, target EMA by ``optax.incremental_update``.
Batches are drawn on the host with numpy, half online and half demo, interleaved so that every
critic step's slice is half and half (rlpd's ``combine``), and copied to the device each call.

Runs in the bench-only environment ``.venv-bench-jax`` (``bench/jax_reference/setup.sh``); jax
is not a product dependency. Protocol (one line each way, stdin/stdout):

- the worker prints ``ready compile_s=<s> jax=<version>`` after the first (compiling) update;
- ``time <seconds>``: it times update calls one by one for that long (at least 3) and prints
  ``times <t1>,<t2>,...`` (seconds per call, each call = G critic updates);
- ``quit``: it exits.

Run alone for a quick figure: ``.venv-bench-jax/bin/python bench/jax_reference/rlpd_update.py
--standalone 10``.
"""

import argparse
import functools
import os
import sys
import time


def parse_args():
    """Command line: the update's shapes (defaults: learner_throughput's state setting)."""
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    p.add_argument('--num-critics', type=int, default=10)
    p.add_argument('--subset', type=int, default=2, help='Z target critics in the min')
    p.add_argument('--width', type=int, default=256)
    p.add_argument('--depth', type=int, default=2)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--utd', type=int, default=20)
    p.add_argument('--obs-dim', type=int, default=17)
    p.add_argument('--act-dim', type=int, default=6)
    p.add_argument('--threads', type=int, default=0,
                   help='CPU cores the worker may use (0: all)')
    p.add_argument('--standalone', type=float, default=0.0,
                   help='time for this many seconds, print the rate and exit')
    return p.parse_args()


def main():  # noqa: C901 - one self-contained reference learner
    """Build the learner, compile, then answer timing requests (see the module docstring)."""
    args = parse_args()
    if args.threads and args.threads < os.cpu_count():
        os.sched_setaffinity(0, set(range(args.threads)))
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    E, Z, G, N = args.num_critics, args.subset, args.utd, args.batch
    obs_dim, act_dim = args.obs_dim, args.act_dim
    hidden = (args.width,) * args.depth
    discount, tau, target_entropy = 0.99, 0.005, -act_dim / 2.0

    class Critic(nn.Module):
        """Q(s, a): Dense -> LayerNorm -> ReLU per hidden layer, then Dense(1) (RLPD 4.2)."""

        @nn.compact
        def __call__(self, obs, act):
            x = jnp.concatenate([obs, act], -1)
            for h in hidden:
                x = nn.relu(nn.LayerNorm()(nn.Dense(h)(x)))
            return nn.Dense(1)(x)[..., 0]

    class Actor(nn.Module):
        """Tanh-Gaussian policy head: mean and clipped log-std."""

        @nn.compact
        def __call__(self, obs):
            x = obs
            for h in hidden:
                x = nn.relu(nn.Dense(h)(x))
            mean, log_std = jnp.split(nn.Dense(2 * act_dim)(x), 2, -1)
            return mean, jnp.clip(log_std, -20.0, 2.0)

    critic, actor = Critic(), Actor()

    def ensemble(params, obs, act):
        return jax.vmap(lambda p: critic.apply({'params': p}, obs, act))(params)

    def sample_tanh_normal(key, mean, log_std):
        eps = jax.random.normal(key, mean.shape)
        pre = mean + jnp.exp(log_std) * eps
        action = jnp.tanh(pre)
        log_prob = (-0.5 * eps ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi)).sum(-1)
        log_prob -= (2 * (jnp.log(2.0) - pre - nn.softplus(-2 * pre))).sum(-1)
        return action, log_prob

    key = jax.random.PRNGKey(0)
    k_c, k_a, key = jax.random.split(key, 3)
    dummy_o, dummy_a = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
    critic_params = jax.vmap(lambda k: critic.init(k, dummy_o, dummy_a)['params'])(
        jax.random.split(k_c, E))
    actor_params = actor.init(k_a, dummy_o)['params']
    log_alpha = jnp.zeros(())
    opt = optax.adam(3e-4)
    target_params = jax.tree_util.tree_map(jnp.copy, critic_params)  # own buffers (donated)
    state = {'critic': critic_params, 'target': target_params, 'actor': actor_params,
             'log_alpha': log_alpha, 'critic_opt': opt.init(critic_params),
             'actor_opt': opt.init(actor_params), 'alpha_opt': opt.init(log_alpha),
             'key': key}

    def critic_step(state, batch):
        key, k_next, k_sub = jax.random.split(state['key'], 3)
        mean, log_std = actor.apply({'params': state['actor']}, batch['next_observations'])
        next_actions, next_log_prob = sample_tanh_normal(k_next, mean, log_std)
        subset = jax.random.choice(k_sub, E, (Z,), replace=False)
        target_params = jax.tree_util.tree_map(lambda p: p[subset], state['target'])
        next_q = ensemble(target_params, batch['next_observations'], next_actions).min(0)
        alpha = jnp.exp(state['log_alpha'])
        target = batch['rewards'] + discount * batch['masks'] * (next_q - alpha * next_log_prob)

        def loss_fn(params):
            qs = ensemble(params, batch['observations'], batch['actions'])
            return ((qs - target) ** 2).mean(), qs.mean()

        (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state['critic'])
        updates, critic_opt = opt.update(grads, state['critic_opt'])
        params = optax.apply_updates(state['critic'], updates)
        target_params = optax.incremental_update(params, state['target'], tau)
        return dict(state, critic=params, target=target_params, critic_opt=critic_opt,
                    key=key), {'critic_loss': loss, 'q': q}

    def actor_temperature_step(state, batch):
        key, k_act = jax.random.split(state['key'])
        alpha = jnp.exp(state['log_alpha'])

        def loss_fn(params):
            mean, log_std = actor.apply({'params': params}, batch['observations'])
            actions, log_prob = sample_tanh_normal(k_act, mean, log_std)
            q = ensemble(state['critic'], batch['observations'], actions).mean(0)
            return (alpha * log_prob - q).mean(), -log_prob.mean()

        (loss, entropy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state['actor'])
        updates, actor_opt = opt.update(grads, state['actor_opt'])
        actor_params = optax.apply_updates(state['actor'], updates)

        def alpha_loss_fn(la):
            return jnp.exp(la) * (entropy - target_entropy)

        a_grad = jax.grad(alpha_loss_fn)(state['log_alpha'])
        a_updates, alpha_opt = opt.update(a_grad, state['alpha_opt'])
        return dict(state, actor=actor_params, actor_opt=actor_opt, key=key,
                    log_alpha=optax.apply_updates(state['log_alpha'], a_updates),
                    alpha_opt=alpha_opt), {'actor_loss': loss}

    @functools.partial(jax.jit, donate_argnums=0)
    def update(state, batch):
        info = {}
        for i in range(G):  # G critic steps on G slices, as rlpd's update (unrolled)
            mini = jax.tree_util.tree_map(lambda x: x[i * N:(i + 1) * N], batch)
            state, info = critic_step(state, mini)
        state, actor_info = actor_temperature_step(state, mini)
        return state, {**info, **actor_info}

    rng = np.random.default_rng(0)

    def filled(n):
        return {'observations': rng.normal(size=(n, obs_dim)).astype(np.float32),
                'next_observations': rng.normal(size=(n, obs_dim)).astype(np.float32),
                'actions': rng.uniform(-1, 1, (n, act_dim)).astype(np.float32),
                'rewards': rng.normal(size=n).astype(np.float32),
                'masks': (rng.random(n) >= 0.01).astype(np.float32)}

    online, demo = filled(2000), filled(2000)
    half = G * N // 2

    def sample():
        i, j = rng.integers(0, 2000, half), rng.integers(0, 2000, half)
        out = {}
        for k in online:
            x = np.empty((2 * half, *online[k].shape[1:]), np.float32)
            x[0::2], x[1::2] = online[k][i], demo[k][j]  # every slice half online, half demo
            out[k] = jnp.asarray(x)
        return out

    def call():
        nonlocal state
        state, info = update(state, sample())
        jax.block_until_ready(info)

    t = time.perf_counter()
    call()
    compile_s = time.perf_counter() - t

    def timed(seconds):
        times, t_end = [], time.perf_counter() + seconds
        while time.perf_counter() < t_end or len(times) < 3:
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        return times

    if args.standalone:
        times = timed(args.standalone)
        print(f'jax {jax.__version__}: compile {compile_s:.1f} s, {G / min(times):.1f} critic '
              f'updates/s best, {G / float(np.median(times)):.1f} median')
        return 0
    print(f'ready compile_s={compile_s:.2f} jax={jax.__version__}', flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == 'quit':
            break
        if words[0] == 'time':
            times = timed(float(words[1]))
            print('times ' + ','.join(f'{x:.6f}' for x in times), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
