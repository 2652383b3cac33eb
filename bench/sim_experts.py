"""
Benchmark serl_sim's scripted experts: success rate over 100 seeded episodes per env.

Usage: ``python bench/sim_experts.py [--episodes N] [--envs ID[:direction] ...]`` (env
sourced). Seeds 0..N-1; an episode counts when it terminates with ``info['succeed']`` within 100
steps. The bin-relocation envs run both directions (``PandaBinRelocation-v0:forward`` and
``:backward``). The requirement is >= 95 %. The last line is ``key=value ...``.
"""

import argparse
import time

import gymnasium as gym
import numpy as np

import serl_sim
from serl_sim.experts import make_expert


def cases():
    """Every registered env; both directions of the bin-relocation envs."""
    out = []
    for env_id in serl_sim.ENVS:
        out += ([f'{env_id}:forward', f'{env_id}:backward'] if 'BinRelocation' in env_id
                else [env_id])
    return out


def run(case, episodes):
    env_id, _, direction = case.partition(':')
    env = gym.make(env_id, **({'direction': direction} if direction else {}))
    expert = make_expert(env)
    successes, lengths, failures = 0, [], []
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        expert.reset()
        for step in range(1, 101):
            obs, _, terminated, truncated, info = env.step(expert(obs))
            if terminated or truncated:
                break
        successes += int(info['succeed'])
        lengths.append(step)
        if not info['succeed']:
            failures.append((seed, env.unwrapped.sim.success()[1]))
    env.close()
    return successes / episodes, float(np.mean(lengths)), failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--episodes', type=int, default=100)
    parser.add_argument('--envs', nargs='*', default=cases())
    args = parser.parse_args()
    results = {}
    for env_id in args.envs:
        start = time.perf_counter()
        rate, mean_length, failures = run(env_id, args.episodes)
        print(f'{env_id}: {rate:.0%} success over {args.episodes} seeded episodes '
              f'(required 95 %, ratio {rate / 0.95:.2f}), mean length {mean_length:.1f} steps, '
              f'{time.perf_counter() - start:.0f} s')
        for seed, reason in failures:
            print(f'  seed {seed} failed: {reason}')
        name = env_id.split('-')[0] + ('_' + env_id.split(':')[1] if ':' in env_id else '')
        results[f'{name}_success'] = round(rate, 3)
    print(' '.join(f'{k}={v}' for k, v in results.items()))


if __name__ == '__main__':
    main()
