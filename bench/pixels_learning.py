"""
Pick-cube from pixels: RLPD on frozen image features, env steps to 90 % success (issue 16).

Protocol (the no-ROS path, ``serl_train_gym``'s ``train``, as bench/agents_compare.py):
``PandaPickCubeVision-v0`` (front and wrist cameras 128x128 + TCP pose, TCP velocity, gripper
width; no object pose) with 50-step episodes; 20 scripted-expert demos (env seeds 10000-10019);
an image encoder per camera pretrained on those demos (``--encoder``: ``bc`` = behaviour cloning
of their actions, the product's default; ``reconstruction`` = spatial autoencoder on their
frames; ``random`` = the untrained encoder), frozen; RLPD with config/agent_pick_cube.yaml on
the features + proprioception; evaluation every 1,000 env steps over 20 deterministic episodes
from fixed seeds; a run stops at >= 90 % or at ``--budget`` env steps.

    python bench/pixels_learning.py --out runs/pixels_learning --seeds 0 1 2

Results accumulate in ``<out>/results.json`` (a rerun skips finished seeds). Prints a markdown
table; last line ``<encoder>=<median env steps to 90 %> ...``.
"""

import argparse
import os
from pathlib import Path
import shutil
import sys
import time

from agents_compare import cpu_model, median_steps, ResultsFile   # the protocol's helpers
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TASK = 'PandaPickCubeVision-v0'
EPISODE_STEPS = 50
DEMO_EPISODES = 20
BUDGET = 25_000
EVAL_EVERY = 1000
EVAL_EPISODES = 20
TARGET = 0.9
CAMERAS = ('front', 'wrist')
PROPRIO = ('gripper_width', 'tcp_pose', 'tcp_vel')


def demo_arrays():
    """Roll out the 20 expert demos (as ``expert_demos`` does): frames, proprio, actions."""
    import gymnasium as gym
    import serl_sim  # noqa: F401 - registers the tasks
    from serl_sim.experts import make_expert

    env = gym.make(TASK, max_episode_steps=EPISODE_STEPS)
    rows = {k: [] for k in (*CAMERAS, 'proprio', 'actions')}
    for ep in range(DEMO_EPISODES):
        obs, _ = env.reset(seed=10_000 + ep)
        expert, done = make_expert(env), False
        while not done:
            action = np.clip(np.asarray(expert(obs), np.float32), -1.0, 1.0)
            for c in CAMERAS:
                rows[c].append(obs[c])
            rows['proprio'].append(np.concatenate([np.ravel(obs[k]) for k in PROPRIO]))
            rows['actions'].append(action)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    env.close()
    return {k: np.asarray(v) for k, v in rows.items()}


def encoder_file(kind: str, out: Path, seed: int) -> Path:
    """Pretrain (or load, when it exists) the ``kind`` encoder of ``seed``; return its file."""
    from serl_agent.vision.bc_pretraining import pretrain_by_behaviour_cloning
    from serl_agent.vision.image_features import save_encoders
    from serl_agent.vision.spatial_autoencoder import pretrain, SpatialAutoencoderConfig

    path = out / f'encoder_{kind}_seed{seed}.pt'
    if path.exists():
        return path
    data = demo_arrays()
    t0 = time.time()
    if kind == 'bc':
        encoders = pretrain_by_behaviour_cloning({c: data[c] for c in CAMERAS}, data['proprio'],
                                                 data['actions'],
                                                 SpatialAutoencoderConfig(steps=2000), seed=seed)
    else:
        steps = 2000 if kind == 'reconstruction' else 0
        encoders = {c: pretrain(data[c], SpatialAutoencoderConfig(steps=steps), seed=seed)
                    for c in CAMERAS}
    save_encoders(path, encoders, {'objective': kind, 'seed': seed,
                                   'seconds': round(time.time() - t0, 1)})
    print(f'encoder {kind} seed {seed}: {time.time() - t0:.0f} s', flush=True)
    return path


def run_one(kind: str, seed: int, out: Path, budget: int) -> dict:
    """Pretrain the encoder, then RLPD with ``seed``; return the run's record."""
    from serl_agent.agents.registry import load_config
    from serl_agent.cli.train_gym import expert_demos, train

    encoder = encoder_file(kind, out, seed)
    config = load_config('rlpd', ROOT / 'config' / 'agent_pick_cube.yaml')
    run_dir = out / 'runs' / f'{kind}_seed{seed}'
    shutil.rmtree(run_dir, ignore_errors=True)
    load0 = os.getloadavg()[0]
    result = train(TASK, budget, run_dir, config, seed=seed,
                   demo_factory=lambda env: expert_demos(env, DEMO_EPISODES, 0),
                   eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES, checkpoint_every=0,
                   target_success=TARGET, progress=False, agent_name='rlpd',
                   env_kwargs={'max_episode_steps': EPISODE_STEPS}, image_encoder=encoder)
    shutil.rmtree(run_dir, ignore_errors=True)
    evals = [(int(s), float(r), float(p)) for s, r, p in result['evals']]
    reached = next((s for s, _, p in evals if p >= TARGET), None)
    return {'encoder': kind, 'seed': seed, 'evals': evals, 'steps_to_target': reached,
            'best_success': max((p for _, _, p in evals), default=0.0),
            'env_steps': result['env_steps'], 'seconds': round(result['seconds'], 1),
            'critic_updates': result['critic_updates'],
            'load': [round(load0, 2), round(os.getloadavg()[0], 2)], 'cpu': cpu_model(),
            'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}


def main(argv=None) -> int:
    """Run the seeds (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    p.add_argument('--out', default='runs/pixels_learning')
    p.add_argument('--encoder', nargs='*', default=['bc'],
                   choices=('bc', 'reconstruction', 'random'))
    p.add_argument('--seeds', nargs='*', type=int, default=[0, 1, 2])
    p.add_argument('--budget', type=int, default=BUDGET, help='env steps per run')
    p.add_argument('--threads', type=int, default=1, help='torch threads per run')
    p.add_argument('--report-only', action='store_true')
    args = p.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(out)
    if not args.report_only:
        for kind in args.encoder:
            for seed in args.seeds:
                if results.has(encoder=kind, seed=seed):
                    continue
                rec = run_one(kind, seed, out, args.budget)
                results.add(rec)
                print(f'{kind} seed {seed}: evals {[(s, q) for s, _, q in rec["evals"]]} '
                      f'steps_to_90={rec["steps_to_target"]} {rec["seconds"]:.0f} s '
                      f'load {rec["load"]}', flush=True)
    print(f'\n| encoder | seeds | env steps to >= {TARGET:.0%} (median; per seed) | best success '
          f'(per seed) | wall-clock s (per seed) |')
    print('|---|---|---|---|---|')
    summary = {}
    for kind in ('bc', 'reconstruction', 'random'):
        recs = sorted((r for r in results.load() if r['encoder'] == kind),
                      key=lambda r: r['seed'])
        if not recs:
            continue
        summary[kind] = median_steps(recs, args.budget)
        per = ', '.join(f'>{args.budget}' if r['steps_to_target'] is None
                        else str(r['steps_to_target']) for r in recs)
        best = ', '.join(f'{r["best_success"]:.2f}' for r in recs)
        seconds = ', '.join(f'{r["seconds"]:.0f}' for r in recs)
        print(f'| {kind} | {len(recs)} | {summary[kind]} ({per}) | {best} | {seconds} |')
    print(f'cpu: {cpu_model()}')
    print(' '.join(f'{k}={v}' for k, v in summary.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
