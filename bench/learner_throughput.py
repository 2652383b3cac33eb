"""
Learner throughput: RLPD critic updates per second on this CPU (or GPU with --device).

Setting (issue 5): E = 10 critics of width 256 x 256, batch 256 (128 online + 128 demo),
observation 17, action 6, UTD G = 20 (each update() call = 20 critic steps + 1 actor and
temperature step). Measured in one run:

- peak: this machine's fp32 matmul rate, best of several large square matmuls (n = 2048)
  at the same thread count;
- rlpd: serl_agent.rlpd.RLPDAgent.update() (stacked critic weights, batched matmul, fused Adam,
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

Last line: ``updates_per_s=... peak_fraction=... vs_loop=...``.
"""

import argparse
import copy
import time

import gymnasium as gym
import numpy as np
from serl_agent.config import RLPDConfig
from serl_agent.networks import tanh_gaussian_sample
from serl_agent.replay import ReplayBuffer
from serl_agent.rlpd import RLPDAgent
from serl_agent.threads import set_torch_threads
import torch
from torch import nn


def matmul_peak(device, n=2048, reps=3, rounds=8):
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


def update_flops(obs_dim, act_dim, width, depth, batch, num_critics, subset, utd):
    """Matmul FLOPs of one critic step plus 1/utd of an actor step (see module docstring)."""
    def mlp(d_in, d_out):
        dims = [d_in] + [width] * depth + [d_out]
        return [(a, b) for a, b in zip(dims[:-1], dims[1:])]

    critic = mlp(obs_dim + act_dim, 1)
    actor = mlp(obs_dim, 2 * act_dim)
    fwd_c = sum(2 * batch * a * b for a, b in critic)
    fwd_a = sum(2 * batch * a * b for a, b in actor)
    bwd_c_weights = fwd_c
    bwd_c_inputs = fwd_c - 2 * batch * critic[0][0] * critic[0][1]
    critic_step = (num_critics * (fwd_c + bwd_c_weights + bwd_c_inputs)
                   + subset * fwd_c + fwd_a)
    # actor step: policy fwd + bwd (weights, inputs after layer 1), E critics fwd + input bwd
    actor_step = (fwd_a + fwd_a + (fwd_a - 2 * batch * actor[0][0] * actor[0][1])
                  + num_critics * (fwd_c + fwd_c))
    return critic_step + actor_step / utd


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
    times, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 3:
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return utd / min(times), utd / float(np.median(times))


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
    args = parser.parse_args()

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

    peak = matmul_peak(args.device)
    print(f'device={args.device} threads={threads} torch={torch.__version__}')
    print(f'fp32 matmul peak (2048^3): {peak / 1e9:.1f} GFLOP/s')
    flops = update_flops(obs_dim, act_dim, args.width, depth, args.batch, args.num_critics,
                         cfg.effective_subset_size, args.utd)
    print(f'matmul work per critic update (incl. 1/{args.utd} actor step): '
          f'{flops / 1e9:.3f} GFLOP')
    compiled = agent.critic_compiled
    t = time.perf_counter()
    agent.update(online, demo)  # first call: compiles the critic step where compiling is on
    sync(args.device)
    warmup = time.perf_counter() - t
    compiled = compiled and agent.critic_compiled  # False if compiling failed (eager fallback)
    graphs = ' + CUDA graphs' if compiled and agent._cuda_graphs else ''
    print(f'critic step: {"torch.compile" if compiled else "eager"}{graphs}; first update() '
          f'{warmup:.1f} s (compile warm-up, cached on disk by torch)')
    ups, ups_median = rate(lambda: agent.update(online, demo), args.utd, args.seconds,
                           args.device)
    print(f'rlpd (stacked, batched matmul, fused Adam): {ups:.1f} critic updates/s best '
          f'({1e3 / ups:.2f} ms each), {ups_median:.1f} median')
    frac = flops * ups / peak
    print(f'  achieved {flops * ups / 1e9:.1f} GFLOP/s = {frac:.3f} of matmul peak')
    vs_loop = float('nan')
    if not args.skip_loop:
        loop = LoopLearner(agent, args.width, depth)
        loop_ups, loop_median = rate(lambda: loop.update(online, demo), args.utd, args.seconds,
                                     args.device)
        vs_loop = ups / loop_ups
        print(f'loop (ModuleList, one critic at a time): {loop_ups:.1f} critic updates/s best '
              f'({1e3 / loop_ups:.2f} ms each), {loop_median:.1f} median')
    print(f'updates_per_s={ups:.1f} peak_fraction={frac:.3f} vs_loop={vs_loop:.2f} '
          f'peak_gflops={peak / 1e9:.1f} threads={threads} compiled={int(compiled)} '
          f'cuda_graphs={int(bool(graphs))}')


if __name__ == '__main__':
    main()
