"""
Benchmark serl_sim's scripted experts: success rate over 100 seeded episodes per env.

Usage: ``python bench/sim_experts.py [--episodes N] [--envs ID ...]`` (env sourced).
Seeds 0..N-1; an episode counts when it terminates with ``info['succeed']`` within 100 steps.
The requirement is >= 95 %. The last line is ``key=value ...``.
"""

import argparse
import time

import gymnasium as gym
import numpy as np

import serl_sim
from serl_sim.experts import make_expert


def run(env_id, episodes):
    env = gym.make(env_id)
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
    parser.add_argument('--envs', nargs='*', default=list(serl_sim.ENVS))
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
        results[f'{env_id.split("-")[0]}_success'] = round(rate, 3)
    print(' '.join(f'{k}={v}' for k, v in results.items()))


if __name__ == '__main__':
    main()
