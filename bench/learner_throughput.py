"""
Learner throughput: RLPD critic updates per second on this CPU (or GPU with --device).

Setting (issue 5): E = 10 critics of width 256 x 256, batch 256 (128 online + 128 demo),
observation 17, action 6, UTD G = 20 (each update() call = 20 critic steps + 1 actor and
temperature step). Measured in one run:

- peak: this machine's fp32 matmul rate, best of several large square matmuls (n = 2048)
  at the same thread count (measured last);
- rlpd: serl_agent.agents.rlpd.RLPDAgent.update() (stacked critic weights, batched matmul,
  fused Adam,
  in-place target EMA, only the Z sampled target critics evaluated; the critic step through
  torch.compile as the product's default ``torch_compile: auto`` does for this size, eager with
  ``--compile off``; the compile warm-up is the untimed first call and is printed);
- loop: a straightforward implementation of the same update with one nn.Module per critic in
  an nn.ModuleList, evaluated in a Python loop (all E target critics evaluated, then a random
  pair's min), default Adam, target EMA by a loop over parameters.

updates_per_s = critic updates per second of wall time of update() (sampling and the amortised
actor/temperature step included), from the fastest of the timed update() calls (each call is
timed alone for --seconds; the median is printed too, as a measure of disturbance by other
processes). peak_fraction = (matmul FLOPs of one update() / G) x
updates_per_s / peak, counting 2 m n k per (m x k)(k x n) product: forward of the E critics,
their backward (weight and input gradients, no input gradient for the first layer), the Z target
critics, the policy on s', and the actor step's forward/backward divided by G. Element-wise work
(LayerNorm, ReLU, Adam) is not counted, so peak_fraction is what fraction of the machine's
matmul rate the update reaches. vs_loop = updates_per_s / loop updates_per_s.

matmul_ceiling: the same run times the update's matrix products alone (same shapes and
layouts, in the update's order, G critic steps then one actor step, nothing in between; the
mat-vec products of the critics' 256 -> 1 output layer left out, their FLOPs kept) and
gives their FLOP rate as a fraction of the peak: what peak_fraction would be if LayerNorm,
ReLU, the loss, Adam, the target EMA, sampling and the framework took no time. Small products
(256 x 256 per critic) do not reach a 2048^3 product's rate, so this is the most the update can
reach on this machine; rlpd's share of it is printed too.

Last line: ``updates_per_s=... peak_fraction=... vs_loop=... matmul_ceiling=...``.

``--pixels`` (issue 16): the pick-cube vision setting instead, batch 256 (128 online + 128 demo),
the main job's RLPD settings (config/agent_pick_cube.yaml: E = 2, UTD 10), the ``front`` and
``wrist`` cameras at 128x128 plus proprioception (TCP pose, TCP velocity, gripper width).
Two designs, measured in the same run:

- frozen: each frame encoded once, when it enters a buffer, by the frozen spatial-softmax
  encoder (serl_agent.vision); the learner trains on the features (2 x 32) + proprioception.
  The encoding is charged per env step (2 frames) and converted to the critic updates it
  costs at the 10 Hz control rate: updates_per_s = the learner's rate x (1 - 10 x encode time).
- drq: end to end, RLPD's pixel setting (Table 1): a DrQ conv encoder per camera shared by the
  critics and trained by the critic loss, 4-pixel random shift, images stored in the buffers.

Last line: ``updates_per_s=<frozen> drq_updates_per_s=... vs_drq=... encode_ms_per_step=...
goal_updates_per_s=40 goal_ratio=...`` (goal: UTD 4 at 10 Hz).
"""

import argparse
import copy
import dataclasses
from dataclasses import dataclass
import time

from agents_compare import cpu_model   # the other benches' CPU line
import gymnasium as gym
import numpy as np
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.precision import cpu_bf16_flags
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.data.replay import ReplayBuffer
from serl_agent.networks import tanh_gaussian_sample
from serl_agent.runtime.threads import set_torch_threads
import torch
from torch import nn


def matmul_peak(device, n=2048, reps=3, rounds=16):
    """Best fp32 matmul FLOP/s over ``rounds`` of ``reps`` (n x n)(n x n) products."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    c = a @ b
    best = 0.0
    for _ in range(rounds):
        sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=c)
        sync(device)
        best = max(best, 2.0 * n ** 3 * reps / (time.perf_counter() - t))
    return best


def sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


@dataclass(frozen=True)
class Product:
    """
    One matrix product of an update: (batch x) (m x k)(k x n), operands as the update has them.

    batch 0 is a plain 2-D ``mm`` (the policy's nn.Linear layers), else a ``bmm`` over that
    many critics. trans_a / trans_b: the operand is a transposed view of a contiguous tensor
    (the weight and input gradients); expand_a: the left operand is one (m x k) matrix
    expanded over the batch (stride 0), as the critics' first layer sees its input.
    """

    batch: int
    m: int
    k: int
    n: int
    trans_a: bool = False
    trans_b: bool = False
    expand_a: bool = False

    @property
    def flops(self) -> int:
        return 2 * max(self.batch, 1) * self.m * self.k * self.n


def update_products(obs_dim, act_dim, width, depth, batch, num_critics, subset):
    """
    List the matmuls of one critic step and of one actor step (see the module docstring).

    Critic step: the policy on s', the Z target critics, the E critics' forward, their weight
    gradients and their input gradients (none for the first layer). Actor step: the policy's
    forward, the E critics' forward and input gradients (down to the action), the policy's
    weight gradients and input gradients after its first layer. Returns (critic, actor) lists
    of ``Product``.
    """
    def dims(d_in, d_out):
        d = [d_in] + [width] * depth + [d_out]
        return list(zip(d[:-1], d[1:]))

    critic, actor = dims(obs_dim + act_dim, 1), dims(obs_dim, 2 * act_dim)
    policy_fwd = [Product(0, batch, a, b, trans_b=True) for a, b in actor]  # x W^T
    policy_bwd = ([Product(0, b, batch, a, trans_a=True) for a, b in actor]  # dW = g^T x
                  + [Product(0, batch, b, a) for a, b in actor[1:]])  # dX = g W

    def critics_fwd(e):
        return [Product(e, batch, a, b, expand_a=(i == 0)) for i, (a, b) in enumerate(critic)]

    def critics_dx(layers):  # dX = g W^T
        return [Product(num_critics, batch, b, a, trans_b=True) for a, b in layers]

    critic_step = (policy_fwd + critics_fwd(subset) + critics_fwd(num_critics)
                   + [Product(num_critics, a, batch, b, trans_a=True) for a, b in critic]
                   + critics_dx(critic[1:]))
    actor_step = policy_fwd + critics_fwd(num_critics) + critics_dx(critic) + policy_bwd
    return critic_step, actor_step


def update_flops(critic_step, actor_step, utd):
    """Matmul FLOPs of one critic step plus 1/utd of an actor step (lists of ``Product``)."""
    return sum(p.flops for p in critic_step) + sum(p.flops for p in actor_step) / utd


def matmuls_only_rate(critic_step, actor_step, utd, device, seconds):
    """
    Critic updates/s if an update were its matmuls alone: the ceiling of ``peak_fraction``.

    Runs ``utd`` x the critic step's products, then the actor step's, with operands of the
    update's shapes and layouts (transposed views, the expanded first-layer input), results
    written into preallocated outputs; nothing else (no LayerNorm, Adam, sampling). Products
    with a dimension of 1 (the critics' output layer and its gradients: matrix-vector work,
    0.3 % of the FLOPs, that a BLAS runs at a few % of peak and a fused kernel does better) are
    left out while their FLOPs still count, so this is an upper bound. Timed as ``rate`` times
    update() (best call).
    """
    def operands(p):
        def mat(rows, cols, trans, expand):
            shape = (rows, cols) if not trans else (cols, rows)
            if p.batch and not expand:
                shape = (p.batch, *shape)
            x = torch.randn(shape, device=device)
            if trans:
                x = x.transpose(-1, -2)
            return x.expand(p.batch, rows, cols) if p.batch and expand else x
        a = mat(p.m, p.k, p.trans_a, p.expand_a)
        b = mat(p.k, p.n, p.trans_b, False)
        out = torch.empty((p.batch, p.m, p.n) if p.batch else (p.m, p.n), device=device)
        return (torch.bmm if p.batch else torch.mm), a, b, out

    critic_ops, actor_ops = ([operands(p) for p in step if min(p.m, p.k, p.n) > 1]
                             for step in (critic_step, actor_step))

    def update():
        for _ in range(utd):
            for f, a, b, out in critic_ops:
                f(a, b, out=out)
        for f, a, b, out in actor_ops:
            f(a, b, out=out)

    return rate(update, utd, seconds, device)[0]


class LoopCritics(nn.Module):
    """E separate LayerNorm MLP critics in a ModuleList (the straightforward baseline)."""

    def __init__(self, in_dim, width, depth, num_critics):
        super().__init__()

        def one():
            layers, d = [], in_dim
            for _ in range(depth):
                layers += [nn.Linear(d, width), nn.LayerNorm(width), nn.ReLU()]
                d = width
            return nn.Sequential(*layers, nn.Linear(d, 1))

        self.critics = nn.ModuleList([one() for _ in range(num_critics)])

    def forward(self, obs, act):
        x = torch.cat([obs, act], -1)
        return torch.stack([c(x).squeeze(-1) for c in self.critics])


class LoopLearner:
    """The same RLPD update as RLPDAgent.update, written the straightforward way."""

    def __init__(self, agent: RLPDAgent, width, depth):
        c = agent.config
        self.cfg = c
        self.policy = copy.deepcopy(agent.policy)
        self.critic = LoopCritics(agent.encoder.feature_dim + agent.action_dim, width, depth,
                                  c.num_critics).to(agent.device)
        self.target = copy.deepcopy(self.critic)
        self.log_alpha = torch.zeros((), device=agent.device, requires_grad=True)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=c.critic_lr)
        self.actor_opt = torch.optim.Adam(self.policy.parameters(), lr=c.actor_lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=c.temperature_lr)
        self.target_entropy = agent.target_entropy
        self.agent = agent

    def update(self, online, demo):
        c = self.cfg
        for _ in range(c.utd_ratio):
            b = self.agent.sample_batch(online, demo)
            with torch.no_grad():
                a2, logp2 = tanh_gaussian_sample(*self.policy(b['next_observations']))
                q_all = self.target(b['next_observations'], a2)
                idx = torch.randperm(c.num_critics)[:c.critic_subset_size]
                q2 = q_all[idx].min(0).values - self.log_alpha.exp() * logp2
                y = b['rewards'] + c.discount * (1 - b['terminated']) * q2
            q = self.critic(b['observations'], b['actions'])
            loss = ((q - y) ** 2).mean(1).sum()
            self.critic_opt.zero_grad()
            loss.backward()
            self.critic_opt.step()
            with torch.no_grad():
                for p, tp in zip(self.critic.parameters(), self.target.parameters()):
                    tp.mul_(1 - c.tau).add_(p, alpha=c.tau)
        a, logp = tanh_gaussian_sample(*self.policy(b['observations']))
        actor_loss = (self.log_alpha.exp().detach() * logp
                      - self.critic(b['observations'], a).mean(0)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        alpha_loss = self.log_alpha.exp() * (-logp.detach().mean() - self.target_entropy)
        self.alpha_opt.zero_grad()
        alpha_loss.backward()
        self.alpha_opt.step()


def rate(fn, utd, seconds, device):
    """
    Critic updates per second of fn() (one call = ``utd`` critic updates).

    After one warm-up call, fn() is timed call by call for ``seconds``; returns (best, median)
    over the calls. The best call is the figure least disturbed by other processes on a shared
    machine; the median shows how much they disturbed it.
    """
    fn()
    sync(device)
    times = call_times(fn, seconds, device)
    return utd / min(times), utd / float(np.median(times))


def call_times(fn, seconds, device):
    """Seconds per fn() call, each timed alone, for ``seconds`` (at least 3 calls)."""
    times, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 3:
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return times


def agreement(obs, act, cfg, online, demo, device, critic_updates):
    """
    Relative difference of bf16 and fp32 in TD loss and mean Q, same seed, same batches.

    Two fresh agents (one per precision, same seed, so the same batches and noise draws) run
    ``critic_updates`` critic updates each; the means over the last fifth are compared.
    """
    means = {}
    for precision in ('fp32', 'bf16'):
        a = RLPDAgent(obs, act, dataclasses.replace(cfg, precision=precision), device=device,
                      seed=1)
        history = [a.update(online, demo) for _ in range(max(1, critic_updates // cfg.utd_ratio))]
        tail = history[-max(1, len(history) // 5):]
        means[precision] = [float(np.mean([m[k] for m in tail])) for k in ('critic_loss',
                                                                           'q_mean')]
    (td32, q32), (td16, q16) = means['fp32'], means['bf16']
    return abs(td16 - td32) / abs(td32), abs(q16 - q32) / abs(q32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: physical cores)')
    parser.add_argument('--seconds', type=float, default=10.0, help='time per measurement')
    parser.add_argument('--num-critics', type=int, default=10)
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--utd', type=int, default=20)
    parser.add_argument('--compile', choices=('auto', 'on', 'off'), default='auto',
                        help="torch.compile the critic step (RLPDConfig.torch_compile; 'auto', "
                             'the default, compiles this setting where a compiler is found)')
    parser.add_argument('--cuda-graphs', action='store_true',
                        help='replay the compiled critic step as CUDA graphs '
                             '(RLPDConfig.cuda_graphs; CUDA only)')
    parser.add_argument('--skip-loop', action='store_true')
    parser.add_argument('--rounds', type=int, default=4,
                        help='alternating rounds of fp32, bf16 and jax (--seconds shared out)')
    parser.add_argument('--jax', choices=('auto', 'on', 'off'), default='auto',
                        help='the JAX reference (bench/jax_reference/setup.sh makes its env); '
                             'auto: skipped with a note when the env is missing')
    parser.add_argument('--agreement', type=int, default=1000,
                        help='critic updates of the bf16-vs-fp32 agreement check')
    parser.add_argument('--pixels', action='store_true',
                        help='the pick-cube vision learner: frozen features vs DrQ end to end')
    args = parser.parse_args()
    if args.pixels:
        return pixels(args)

    threads = set_torch_threads(args.threads)
    obs_dim, act_dim, depth = 17, 6, 2
    obs = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    act = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)
    cfg = RLPDConfig(batch_size=args.batch, num_critics=args.num_critics,
                     hidden_dims=(args.width,) * depth, utd_ratio=args.utd,
                     torch_compile={'auto': 'auto', 'on': True, 'off': False}[args.compile],
                     cuda_graphs=args.cuda_graphs)
    rng = np.random.default_rng(0)
    buffers = []
    for _ in range(2):
        buf = ReplayBuffer(obs, act, 10_000, device=args.device)
        for _ in range(2000):
            buf.insert(rng.normal(size=obs_dim), rng.uniform(-1, 1, act_dim), rng.normal(),
                       rng.normal(size=obs_dim), rng.random() < 0.01, False)
        buffers.append(buf)
    online, demo = buffers
    agent = RLPDAgent(obs, act, cfg, device=args.device, seed=0)
    bf16_agent = RLPDAgent(obs, act, dataclasses.replace(cfg, precision='bf16'),
                           device=args.device, seed=0)

    print(f'device={args.device} threads={threads} torch={torch.__version__}')
    bf16_flags = cpu_bf16_flags() if torch.device(args.device).type == 'cpu' else ()
    amx = 'amx_bf16' in bf16_flags
    if torch.device(args.device).type == 'cpu':
        print(f'CPU: {cpu_model()}; native bf16: {", ".join(bf16_flags) or "none"}'
              + ('' if amx else ' (no AMX on this CPU: the bf16 goal of 1.5x is for AMX)'))
    critic_products, actor_products = update_products(
        obs_dim, act_dim, args.width, depth, args.batch, args.num_critics,
        cfg.effective_subset_size)
    flops = update_flops(critic_products, actor_products, args.utd)
    print(f'matmul work per critic update (incl. 1/{args.utd} actor step): '
          f'{flops / 1e9:.3f} GFLOP')
    compiled = agent.critic_compiled
    warmup = {}
    for name, a in (('fp32', agent), ('bf16', bf16_agent)):
        t = time.perf_counter()
        a.update(online, demo)  # first call: compiles the critic step where compiling is on
        sync(args.device)
        warmup[name] = time.perf_counter() - t
    compiled = compiled and agent.critic_compiled  # False if compiling failed (eager fallback)
    graphs = ' + CUDA graphs' if compiled and agent._cuda_graphs else ''
    print(f'critic step: {"torch.compile" if compiled else "eager"}{graphs}; first update() '
          f'{warmup["fp32"]:.1f} s fp32, {warmup["bf16"]:.1f} s bf16 (compile warm-up, cached '
          f'on disk by torch)')
    jax_worker, jax_note = None, ''
    if args.jax != 'off':
        try:
            from jax_reference.client import JaxWorker
            jax_worker = JaxWorker(num_critics=args.num_critics,
                                   subset=cfg.effective_subset_size, width=args.width,
                                   depth=depth, batch=args.batch, utd=args.utd,
                                   obs_dim=obs_dim, act_dim=act_dim, threads=threads)
            print(f'jax {jax_worker.version} reference (bench/jax_reference): first update() '
                  f'{jax_worker.compile_s:.1f} s (jit)')
        except (FileNotFoundError, RuntimeError) as e:
            if args.jax == 'on':
                raise
            jax_note = f' (no JAX reference: {e})'
            print(f'jax reference skipped: {e}')
    # Alternating rounds: each variant is timed in every round, so a disturbance by other
    # processes hits all of them alike; the best call of all rounds is the figure.
    variants = {'fp32': lambda s: call_times(lambda: agent.update(online, demo), s, args.device),
                'bf16': lambda s: call_times(lambda: bf16_agent.update(online, demo), s,
                                             args.device)}
    if jax_worker is not None:
        variants['jax'] = jax_worker.times
    times = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, timed in variants.items():
            times[name] += timed(args.seconds / args.rounds)
    if jax_worker is not None:
        jax_worker.close()
    best = {k: args.utd / min(v) for k, v in times.items()}
    median = {k: args.utd / float(np.median(v)) for k, v in times.items()}
    for k in times:
        print(f'{k}: {best[k]:.1f} critic updates/s best ({1e3 / best[k]:.2f} ms each), '
              f'{median[k]:.1f} median, {len(times[k])} calls in {args.rounds} rounds')
    ups = best['fp32']
    bf16_speedup = best['bf16'] / best['fp32']
    vs_jax = best['fp32'] / best['jax'] if 'jax' in best else float('nan')
    bf16_vs_jax = best['bf16'] / best['jax'] if 'jax' in best else float('nan')
    print(f'bf16 / fp32 = {bf16_speedup:.2f} (goal 1.5 on an AMX CPU); fp32 / jax = '
          f'{vs_jax:.2f} (goal 1.0); bf16 / jax = {bf16_vs_jax:.2f} (goal 1.5){jax_note}')
    td_diff, q_diff = agreement(obs, act, cfg, online, demo, args.device, args.agreement)
    print(f'bf16 vs fp32 over {args.agreement} critic updates on identical batches (same '
          f'seed): TD loss differs by {100 * td_diff:.2f} %, mean Q by {100 * q_diff:.2f} % '
          f'(means of the last fifth; goal <= 2 %)')
    mm_ups = matmuls_only_rate(critic_products, actor_products, args.utd, args.device,
                               args.seconds)
    print(f'matmuls alone (same products, shapes and layouts; nothing else): {mm_ups:.1f} '
          f'critic updates/s ({1e3 / mm_ups:.2f} ms each)')
    vs_loop = float('nan')
    if not args.skip_loop:
        loop = LoopLearner(agent, args.width, depth)
        loop_ups, loop_median = rate(lambda: loop.update(online, demo), args.utd, args.seconds,
                                     args.device)
        vs_loop = ups / loop_ups
        print(f'loop (ModuleList, one critic at a time): {loop_ups:.1f} critic updates/s best '
              f'({1e3 / loop_ups:.2f} ms each), {loop_median:.1f} median')
    # 16 rounds: 8 gave 252 to 316 GFLOP/s in three one-minute runs on this shared VM.
    peak = matmul_peak(args.device)
    print(f'fp32 matmul peak (2048^3): {peak / 1e9:.1f} GFLOP/s')
    frac, ceiling = flops * ups / peak, flops * mm_ups / peak
    print(f'rlpd achieves {flops * ups / 1e9:.1f} GFLOP/s = {frac:.3f} of matmul peak; the '
          f'matmuls alone {ceiling:.3f} (the ceiling of peak_fraction), so rlpd reaches '
          f'{frac / ceiling:.3f} of the ceiling')
    print(f'updates_per_s={ups:.1f} peak_fraction={frac:.3f} vs_loop={vs_loop:.2f} '
          f'matmul_ceiling={ceiling:.3f} peak_gflops={peak / 1e9:.1f} '
          f'bf16_updates_per_s={best["bf16"]:.1f} bf16_speedup={bf16_speedup:.2f} '
          f'jax_updates_per_s={best.get("jax", float("nan")):.1f} vs_jax={vs_jax:.2f} '
          f'bf16_vs_jax={bf16_vs_jax:.2f} bf16_td_loss_diff={td_diff:.4f} '
          f'bf16_q_diff={q_diff:.4f} amx={int(amx)} threads={threads} '
          f'compiled={int(compiled)} cuda_graphs={int(bool(graphs))}')


def _filled(space, act, rng, n, device):
    """Return a buffer of ``n`` random transitions of ``space`` (uint8 images, float states)."""
    buf = ReplayBuffer(space, act, n, device=device)

    def draw():
        return {k: (rng.integers(0, 256, b.shape, np.uint8) if b.dtype == np.uint8
                    else rng.uniform(-1, 1, b.shape).astype(np.float32))
                for k, b in space.spaces.items()}
    for _ in range(n):
        buf.insert(draw(), rng.uniform(-1, 1, act.shape), 0.0, draw(), False, False)
    return buf


def pixels(args):
    """Time the vision learner: frozen cached features vs DrQ end to end (see the docstring)."""
    from pathlib import Path
    from serl_agent.agents.registry import load_config
    from serl_agent.vision.image_features import ImageFeatures
    from serl_agent.vision.spatial_autoencoder import SpatialAutoencoderConfig, SpatialEncoder

    threads = set_torch_threads(args.threads)
    root = Path(__file__).resolve().parents[1]
    cfg = load_config('rlpd', root / 'config' / 'agent_pick_cube.yaml', batch_size=args.batch)
    utd = cfg.utd_ratio
    box = gym.spaces.Box
    proprio = {'tcp_pose': box(-np.inf, np.inf, (7,), np.float32),
               'tcp_vel': box(-np.inf, np.inf, (6,), np.float32),
               'gripper_width': box(0, 0.1, (1,), np.float32)}
    cameras = ('front', 'wrist')
    images = {c: box(0, 255, (128, 128, 3), np.uint8) for c in cameras}
    image_space = gym.spaces.Dict({**proprio, **images})
    act = box(-1.0, 1.0, (4,), np.float32)
    features = ImageFeatures({c: SpatialEncoder(SpatialAutoencoderConfig()).eval()
                              for c in cameras})
    feature_space = features.space(image_space)
    rng = np.random.default_rng(0)
    print(f'device={args.device} threads={threads} torch={torch.__version__} batch={args.batch} '
          f'critics={cfg.num_critics} utd={utd}')

    frame = {c: rng.integers(0, 256, (128, 128, 3), np.uint8) for c in cameras}
    features.observation(frame)
    times = []
    for _ in range(50):
        t = time.perf_counter()
        features.observation(frame)
        times.append(time.perf_counter() - t)
    encode = float(np.median(times))
    print(f'frozen encoder: {1e3 * encode:.2f} ms per env step (2 frames, median of 50)')

    online, demo = (_filled(feature_space, act, rng, 2000, args.device) for _ in range(2))
    agent = RLPDAgent(feature_space, act, cfg, device=args.device, seed=0)
    learner_ups, median = rate(lambda: agent.update(online, demo), utd, args.seconds,
                               args.device)
    frozen_ups = learner_ups * max(0.0, 1.0 - 10.0 * encode)
    print(f'frozen features: {learner_ups:.1f} critic updates/s best, {median:.1f} median; '
          f'{frozen_ups:.1f} after the encoding at 10 Hz')

    drq_cfg = load_config('rlpd', root / 'config' / 'agent_pick_cube.yaml',
                          batch_size=args.batch, image_shift=4)
    online, demo = (_filled(image_space, act, rng, 600, args.device) for _ in range(2))
    agent = RLPDAgent(image_space, act, drq_cfg, device=args.device, seed=0)
    drq_ups, drq_median = rate(lambda: agent.update(online, demo), utd, args.seconds,
                               args.device)
    print(f'drq end to end: {drq_ups:.2f} critic updates/s best, {drq_median:.2f} median')
    goal = 40.0
    print(f'updates_per_s={frozen_ups:.1f} drq_updates_per_s={drq_ups:.2f} '
          f'vs_drq={frozen_ups / drq_ups:.1f} encode_ms_per_step={1e3 * encode:.2f} '
          f'goal_updates_per_s={goal:.0f} goal_ratio={frozen_ups / goal:.2f} threads={threads}')


if __name__ == '__main__':
    main()
