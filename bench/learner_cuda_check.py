"""
The RLPD learner's CUDA path: same math as on the CPU, checkpoints across devices, learning.

For a machine with a CUDA GPU (CI has none; docs/benchmarks.md records each run):
``python bench/learner_cuda_check.py``. Each check prints PASS or FAIL with its figure:

1. one critic step (target, loss, gradients of every critic parameter, then the fused Adam
   step) and one actor step (loss, gradients) on CUDA equal the CPU's on the same weights,
   batch, policy noise and target-critic subset, for state and for image observations
   (relative error ||cuda - cpu|| / ||cpu||; fp32 matmuls on both, cuDNN's TF32 convolutions
   for images);
2. torch.compile'd critic steps, and compiled steps replayed as CUDA graphs
   (``RLPDConfig.cuda_graphs``), equal eager CUDA steps over several steps with the weights
   updated in between (a graph that kept stale weights or outputs fails here), and full
   ``update()`` calls run with finite metrics;
3. a checkpoint saved from a CUDA agent loads into a CPU agent and acts the same; policy
   weights encoded on CUDA (what the learner publishes) decode on the CPU and act the same;
4. Pendulum-v1 with the CI learning test's small settings, on CUDA, reaches an evaluation
   return >= -250 within 10k env steps (test_rlpd_learning.py does the same on the CPU).

Last line: ``passed=<n> failed=<n> pendulum_steps=<n> pendulum_s=<s>``; exit status 1 if any
check failed.
"""

import argparse
import tempfile
import time

import gymnasium as gym
import numpy as np
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.cli.train_gym import train
from serl_agent.data import checkpoint
from serl_agent.data.policy_io import decode_policy, encode_policy
from serl_agent.data.replay import ReplayBuffer
from serl_agent.networks import tanh_gaussian_from_noise
import torch

RESULTS = []
DEVICE = 'cuda'  # --device cpu: a dry run of this script, CPU against CPU


def report(name, ok, detail):
    RESULTS.append(ok)
    print(f'{"PASS" if ok else "FAIL"} {name}: {detail}', flush=True)


def rel_err(a, b):
    """Return ||a - b|| / ||b|| over tensors (or lists of tensors), in float64 on the CPU."""
    if isinstance(a, (list, tuple)):
        num = sum(float((x.detach().double().cpu() - y.detach().double().cpu()).square().sum())
                  for x, y in zip(a, b))
        den = sum(float(y.detach().double().cpu().square().sum()) for y in b)
        return (num / max(den, 1e-300)) ** 0.5
    return rel_err([a], [b])


def spaces(images):
    act = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    if not images:
        return gym.spaces.Box(-np.inf, np.inf, (17,), np.float32), act
    return gym.spaces.Dict({
        'state': gym.spaces.Box(-np.inf, np.inf, (7,), np.float32),
        'front': gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)}), act


def random_obs(space, n, g):
    if isinstance(space, gym.spaces.Dict):
        return {'state': torch.randn(n, 7, generator=g),
                'front': torch.randint(0, 256, (n, 64, 64, 3), generator=g, dtype=torch.uint8)}
    return torch.randn(n, space.shape[0], generator=g)


def random_batch(space, n, seed):
    g = torch.Generator().manual_seed(seed)
    return {'observations': random_obs(space, n, g),
            'next_observations': random_obs(space, n, g),
            'actions': torch.rand(n, 6, generator=g) * 2 - 1,
            'rewards': torch.randn(n, generator=g),
            'terminated': (torch.rand(n, generator=g) < 0.1).float(),
            'truncated': torch.zeros(n)}


def to(x, device):
    if isinstance(x, dict):
        return {k: to(v, device) for k, v in x.items()}
    return x.to(device)


def check_cpu_vs_cuda(images, tol):
    """Check 1: one critic step and one actor step, CPU vs CUDA, same everything."""
    obs_space, act_space = spaces(images)
    n = 64 if images else 256
    cfg = RLPDConfig(batch_size=n, torch_compile=False)  # Table 1: E = 10, Z = 2, 256 x 256
    cpu = RLPDAgent(obs_space, act_space, cfg, 'cpu', seed=0)
    gpu = RLPDAgent(obs_space, act_space, cfg, DEVICE, seed=0)
    gpu.load_state_dict(cpu.state_dict())
    batch = random_batch(obs_space, n, 1)
    g = torch.Generator().manual_seed(2)
    eps = torch.randn(n, 6, generator=g)
    subset = torch.tensor([3, 7])
    kind = 'image' if images else 'state'

    outs, grads, params = {}, {}, {}
    for name, agent in (('ref', cpu), ('dev', gpu)):
        b = to(batch, agent.device)
        agent.critic_optimizer.zero_grad(set_to_none=True)
        loss, _, _, target = agent._critic_loss(
            b['observations'], b['actions'], b['rewards'], b['terminated'],
            b['next_observations'], eps.to(agent.device), subset.to(agent.device))
        loss.backward()
        outs[name] = (loss.detach(), target.detach())
        grads[name] = [p.grad.detach().clone() for p in agent.critic_params]
        agent.critic_optimizer.step()
        params[name] = [p.detach().clone() for p in agent.critic_params]
    report(f'{kind}: critic target and loss, CUDA vs CPU', max(
        rel_err(outs['dev'][1], outs['ref'][1]), rel_err(outs['dev'][0], outs['ref'][0])) < tol,
        f'target rel err {rel_err(outs["dev"][1], outs["ref"][1]):.2e}, loss '
        f'{rel_err(outs["dev"][0], outs["ref"][0]):.2e} (tolerance {tol:g})')
    e = rel_err(grads['dev'], grads['ref'])
    report(f'{kind}: critic gradients, CUDA vs CPU', e < tol,
           f'rel err {e:.2e} over {len(grads["ref"])} tensors')
    e = rel_err(params['dev'], params['ref'])
    report(f'{kind}: critic weights after one fused Adam step, CUDA vs CPU', e < tol,
           f'rel err {e:.2e}')

    actor = {}
    for name, agent in (('ref', cpu), ('dev', gpu)):
        b = to(batch, agent.device)
        with torch.no_grad():
            features = agent.encoder(b['observations'])
        mean, log_std = agent.policy.head(features)
        actions, log_prob = tanh_gaussian_from_noise(mean, log_std, eps.to(agent.device))
        q = agent.critic(features, actions).mean(dim=0)
        loss = (agent.log_alpha.detach().exp() * log_prob - q).mean()
        agent.actor_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        actor[name] = [loss.detach()] + [p.grad.detach().clone()
                                         for p in agent.policy.head.parameters()]
    e = rel_err(actor['dev'], actor['ref'])
    report(f'{kind}: actor loss and gradients, CUDA vs CPU', e < tol, f'rel err {e:.2e}')


def filled_buffers(obs_space, act_space, device, n=1000):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(2):
        buf = ReplayBuffer(obs_space, act_space, 2 * n, device=device)
        for _ in range(n):
            o, o2 = obs_space.sample(), obs_space.sample()
            buf.insert(o, rng.uniform(-1, 1, 6), rng.normal(), o2, rng.random() < 0.05, False)
        out.append(buf)
    return out


def check_compiled(images, tol, steps=5):
    """Check 2: compiled and CUDA-graph critic steps equal eager ones on CUDA."""
    obs_space, act_space = spaces(images)
    n = 64 if images else 256
    kind = 'image' if images else 'state'
    agents = {}
    for name, compile_, graphs in (('eager', False, False), ('compiled', True, False),
                                   ('compiled+graphs', True, True)):
        cfg = RLPDConfig(batch_size=n, torch_compile=compile_, cuda_graphs=graphs)
        agents[name] = RLPDAgent(obs_space, act_space, cfg, DEVICE, seed=0)
    for name in ('compiled', 'compiled+graphs'):
        agents[name].load_state_dict(agents['eager'].state_dict())
    errs = {name: 0.0 for name in agents if name != 'eager'}
    t0 = time.perf_counter()
    for step in range(steps):
        batch = to(random_batch(obs_space, n, 10 + step), DEVICE)
        metrics = {name: agent.critic_step(batch) for name, agent in agents.items()}
        for name in errs:
            a, ref = agents[name], agents['eager']
            errs[name] = max(errs[name], rel_err(
                [metrics[name][k] for k in sorted(metrics['eager'])],
                [metrics['eager'][k] for k in sorted(metrics['eager'])]),
                rel_err(a.critic_params + a.target_params,
                        ref.critic_params + ref.target_params))
    warm = time.perf_counter() - t0
    for name, e in errs.items():
        ok = e < tol and agents[name].critic_compiled
        report(f'{kind}: {name} critic steps vs eager on CUDA ({steps} steps)', ok,
               f'max rel err {e:.2e} (tolerance {tol:g}); still compiled: '
               f'{agents[name].critic_compiled}; first {steps} steps incl. compiling {warm:.1f} s')
    online, demo = filled_buffers(obs_space, act_space, DEVICE)
    agent = agents['compiled+graphs']
    bad = []
    for _ in range(20):
        m = agent.update(online, demo)
        bad += [k for k, v in m.items() if not np.isfinite(v)]
    report(f'{kind}: 20 update() calls with CUDA graphs, demo + online buffers on the GPU',
           not bad and agent.critic_compiled,
           f'critic_updates {agent.critic_updates}, critic_loss {m["critic_loss"]:.3g}, '
           f'non-finite {bad}')


def check_checkpoint_and_weights(images):
    """Check 3: CUDA checkpoint -> CPU agent; CUDA-encoded policy weights -> CPU policy."""
    obs_space, act_space = spaces(images)
    kind = 'image' if images else 'state'
    cfg = RLPDConfig(batch_size=32, utd_ratio=2, torch_compile=False)
    gpu = RLPDAgent(obs_space, act_space, cfg, DEVICE, seed=0)
    online, demo = filled_buffers(obs_space, act_space, DEVICE, n=200)
    for _ in range(3):
        gpu.update(online, demo)
    obs = np.stack([obs_space.sample() for _ in range(8)]) if not images else {
        k: np.stack([obs_space.sample()[k] for _ in range(8)]) for k in obs_space.spaces}
    ref = gpu.act(obs, deterministic=True)
    with tempfile.TemporaryDirectory() as run:
        checkpoint.save(run, gpu, {'online': online, 'demo': demo}, counters={'env_steps': 200})
        cpu = RLPDAgent(obs_space, act_space, cfg, 'cpu', seed=1)
        bufs = {'online': ReplayBuffer(obs_space, act_space, 400),
                'demo': ReplayBuffer(obs_space, act_space, 400)}
        loaded = checkpoint.load(run, cpu, bufs)
        err = float(np.abs(cpu.act(obs, deterministic=True) - ref).max())
        ok = (err < 1e-4 and loaded['counters']['env_steps'] == 200
              and len(bufs['online']) == len(online) and cpu.critic_updates == gpu.critic_updates)
        report(f'{kind}: checkpoint saved on CUDA, loaded on CPU', ok,
               f'max action difference {err:.1e}, {len(bufs["online"])} online transitions, '
               f'critic_updates {cpu.critic_updates}')
        gpu2 = RLPDAgent(obs_space, act_space, cfg, DEVICE, seed=2)
        checkpoint.save(run, cpu, bufs)
        checkpoint.load(run, gpu2, {'online': ReplayBuffer(obs_space, act_space, 400, DEVICE),
                                    'demo': ReplayBuffer(obs_space, act_space, 400, DEVICE)})
        err2 = float(np.abs(gpu2.act(obs, deterministic=True) - ref).max())
        gpu2.update(online, demo)
        report(f'{kind}: that checkpoint saved again on CPU, loaded on CUDA, trains on',
               err2 < 1e-4,
               f'max action difference {err2:.1e}')
    config_json, data = encode_policy(gpu)
    policy = decode_policy(config_json, data)
    err = float(np.abs(policy.act(obs, True) - ref).max())
    report(f'{kind}: policy weights encoded on CUDA act the same decoded on CPU', err < 1e-4,
           f'max action difference {err:.1e}, {len(data)} bytes')


def check_pendulum(max_steps):
    """Check 4: the CI learning test's settings on CUDA."""
    torch.manual_seed(0)
    small = RLPDConfig(num_critics=2, critic_subset_size=2, hidden_dims=(128, 128),
                       batch_size=128, utd_ratio=2, random_steps=500)
    with tempfile.TemporaryDirectory() as run:
        result = train('Pendulum-v1', max_steps, run, small, seed=0, device=DEVICE,
                       eval_every=1000, eval_episodes=5, checkpoint_every=0, target_return=-250.0,
                       progress=False)
    ok = result['last_eval'] is not None and result['last_eval'] >= -250.0
    report('Pendulum-v1 on CUDA reaches -250 within 10k env steps', ok,
           f'evaluations {result["evals"]}; {result["env_steps"]} env steps, '
           f'{result["seconds"]:.0f} s')
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('--skip-pendulum', action='store_true')
    parser.add_argument('--device', default='cuda',
                        help="'cpu' runs the same checks CPU against CPU (a dry run)")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('no CUDA device: this check needs one (torch.cuda.is_available() is '
                         'False)')
    name = torch.cuda.get_device_name() if DEVICE == 'cuda' else DEVICE
    print(f'torch {torch.__version__}, {name}, '
          f'matmul TF32 {torch.backends.cuda.matmul.allow_tf32}, '
          f'cuDNN TF32 {torch.backends.cudnn.allow_tf32}', flush=True)
    checks = [(check_cpu_vs_cuda, False, 1e-4), (check_cpu_vs_cuda, True, 3e-3),
              (check_compiled, False, 1e-4), (check_compiled, True, 3e-3),
              (check_checkpoint_and_weights, False), (check_checkpoint_and_weights, True)]
    for check, *check_args in checks:
        try:
            check(*check_args)
        except Exception as e:  # noqa: B902 - report and go on to the next check
            report(f'{check.__name__}{tuple(check_args)}', False, f'{type(e).__name__}: {e}')
    steps, seconds = 0, 0.0
    if not args.skip_pendulum:
        try:
            result = check_pendulum(10_000)
            steps, seconds = result['env_steps'], result['seconds']
        except Exception as e:  # noqa: B902
            report('Pendulum-v1 on CUDA', False, f'{type(e).__name__}: {e}')
    failed = RESULTS.count(False)
    print(f'passed={RESULTS.count(True)} failed={failed} pendulum_steps={steps} '
          f'pendulum_s={seconds:.0f}')
    raise SystemExit(1 if failed else 0)


if __name__ == '__main__':
    main()
