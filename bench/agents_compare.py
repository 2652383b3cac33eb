"""
SAC, AWAC, BC and RLPD side by side on state-based pick-cube, with ablations of RLPD.

Protocol (the no-ROS path, ``serl_train_gym``'s ``train``): ``PandaPickCube-v0`` with 50-step
episodes (as ``serl_train``); the same 20 scripted-expert demos for every agent and seed (demo
seed 0); every 1,000 env steps an evaluation of 20 deterministic episodes from fixed seeds
(not trained on, not counted as env steps); a run stops at the first evaluation >= 90 %
success or at the 20,000-step budget. Each variant's settings are its agent's section of
``config/agent_pick_cube.yaml`` (the agent's own defaults plus the task's sparse-reward
choices) and the overrides below.

Variants: ``rlpd`` (the main job's settings), ``sac`` (no prior data), ``sac_demos`` (the
demos seeded into its replay buffer), ``awac`` (offline phase on the demos, then online with
them in the buffer), ``bc`` (cloned demos, evaluated once, no online learning); ablations of
RLPD: ``rlpd_no_layernorm``, ``rlpd_seeded`` (demos seeded into the buffer instead of 50/50
batches), ``rlpd_10_critics`` (E = 10 instead of 2); and ``rlpd_bc_warmstart`` (an offline
phase of 2,000 steps that clones the demos into the actor while the critics learn by TD, then
RLPD as usual), ``rlpd_bc_reg`` (TD3+BC's BC term in every online actor step,
``actor_bc_weight: 1``) and ``rlpd_bc_warmstart_reg`` (both); ``rlpd_obs_norm``,
``awac_obs_norm`` and ``bc_obs_norm`` (running observation normalisation).

``--no-stop`` goes on after the target to the budget, to see whether the success lasts: the
table's "after" column is the lowest success of the evaluations after the first >= 90 %.

Usage::

    python bench/agents_compare.py --out runs/agents_compare [--variants rlpd sac ...]
        [--seeds 0 1 2] [--threads 1]

Results go to ``<out>/results.json`` (one record per variant and seed; a rerun skips the
records it has, so several processes may share the work on different variants), the learning
curves to ``<out>/agents_compare.png`` (median and range over seeds of the evaluation success
against env steps). Prints one line per run, a table, and last a ``key=value`` line with each
variant's median env steps to 90 % (``>20000`` where fewer than half of the seeds got there).
"""

import argparse
import json
import os
from pathlib import Path
import platform
import shutil
import sys
import time

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TASK = 'PandaPickCube-v0'
EPISODE_STEPS = 50
DEMO_EPISODES = 20
DEMO_SEED = 0
BUDGET = 20_000
EVAL_EVERY = 1000
EVAL_EPISODES = 20
TARGET = 0.9

# name -> (agent, overrides of its config/agent_pick_cube.yaml section, prior data given)
VARIANTS = {
    'rlpd': ('rlpd', {}, True),
    'sac': ('sac', {}, False),
    'sac_demos': ('sac', {}, True),
    'awac': ('awac', {}, True),
    'bc': ('bc', {}, True),
    'rlpd_no_layernorm': ('rlpd', {'critic_layer_norm': False}, True),
    'rlpd_seeded': ('rlpd', {'prior_sampling': 'seeded'}, True),
    'rlpd_10_critics': ('rlpd', {'num_critics': 10}, True),
    # beyond the paper: RLPD warm-started from behaviour cloning (WSRL-like): 2,000 offline
    # steps on the demos, the actor's deterministic action regressed onto theirs, the critics
    # by TD; then RLPD
    'rlpd_bc_warmstart': ('rlpd', {'offline_steps': 2000, 'offline_actor': 'bc'}, True),
    # beyond the paper: RLPD whose online actor step keeps TD3+BC's term toward the demos'
    # actions (actor_bc_weight 1: the squared action error, up to 4 for 4-D actions in
    # [-1, 1], against Q ~ 0-1 of the 0/1 reward)
    'rlpd_bc_reg': ('rlpd', {'actor_bc_weight': 1.0}, True),
    # both: the warm start, kept from collapsing by the same term online
    'rlpd_bc_warmstart_reg': ('rlpd', {'offline_steps': 2000, 'offline_actor': 'bc',
                                       'actor_bc_weight': 1.0}, True),
    # issue 17 item 5: running observation normalisation on the project's own task
    'rlpd_obs_norm': ('rlpd', {'normalize_observations': True}, True),
    'awac_obs_norm': ('awac', {'normalize_observations': True}, True),
    'bc_obs_norm': ('bc', {'normalize_observations': True}, True),
}


class ResultsFile:
    """
    ``<out>/results.json``: one record per finished run, so that a rerun skips what is done.

    Re-read before each use: another bench process may add records to the same file.
    """

    def __init__(self, out: Path):
        self.path = Path(out) / 'results.json'

    def load(self) -> list:
        """Return the records (empty before the first)."""
        return json.loads(self.path.read_text()) if self.path.exists() else []

    def has(self, **key) -> bool:
        """Whether a record matches every ``key=value`` (e.g. ``variant='rlpd', seed=0``)."""
        return any(all(r.get(k) == v for k, v in key.items()) for r in self.load())

    def add(self, record: dict) -> None:
        """Append ``record`` to the file."""
        self.path.write_text(json.dumps(self.load() + [record], indent=1) + '\n')


def cpu_model() -> str:
    """Return the CPU model name (lscpu's), for the record."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def run_one(name: str, seed: int, out: Path, budget: int, stop: bool = True) -> dict:
    """Train variant ``name`` with ``seed``; return its record (evals, steps to target...)."""
    from serl_agent.agents.registry import load_config
    from serl_agent.cli.train_gym import expert_demos, train

    agent, overrides, with_demos = VARIANTS[name]
    config = load_config(agent, ROOT / 'config' / 'agent_pick_cube.yaml', **overrides)
    run_dir = out / 'runs' / f'{name}_seed{seed}'
    shutil.rmtree(run_dir, ignore_errors=True)
    load0 = os.getloadavg()[0]
    result = train(TASK, budget, run_dir, config, seed=seed,
                   demo_factory=((lambda env: expert_demos(env, DEMO_EPISODES, DEMO_SEED))
                                 if with_demos else None),
                   eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES, checkpoint_every=0,
                   target_success=TARGET if stop else None, progress=False, agent_name=agent,
                   env_kwargs={'max_episode_steps': EPISODE_STEPS})
    shutil.rmtree(run_dir, ignore_errors=True)
    evals = [(int(s), float(r), float(p)) for s, r, p in result['evals']]
    reached = next((s for s, _, p in evals if p >= TARGET), None)
    return {'variant': name, 'agent': agent, 'seed': seed, 'overrides': overrides,
            'evals': evals, 'steps_to_target': reached,
            'best_success': max((p for _, _, p in evals), default=0.0),
            'env_steps': result['env_steps'], 'seconds': round(result['seconds'], 1),
            'critic_updates': result['critic_updates'], 'budget': budget, 'no_stop': not stop,
            'actor_updates': result['actor_updates'],
            'offline_updates': result['offline_updates'],
            'load': [round(load0, 2), round(os.getloadavg()[0], 2)],
            'cpu': cpu_model(), 'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}


def median_steps(records, budget: int) -> str:
    """Median env steps to target over seeds (a seed that never got there counts as above)."""
    steps = sorted(r['steps_to_target'] if r['steps_to_target'] is not None else np.inf
                   for r in records)
    m = float(np.median(steps))
    return f'>{budget}' if not np.isfinite(m) else f'{m:.0f}'


def success_after(record) -> str:
    """Return the lowest success after the first evaluation >= target ('-': none after it)."""
    reached = record['steps_to_target']
    later = [p for s, _, p in record['evals'] if reached is not None and s > reached]
    return f'{min(later):.2f}' if later else '-'


def plot(results, path: Path) -> None:
    """Median and range over seeds of evaluation success against env steps, one per variant."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name in VARIANTS:
        recs = [r for r in results if r['variant'] == name]
        if not recs:
            continue
        steps = sorted({s for r in recs for s, _, _ in r['evals']})
        rows = []
        for r in recs:  # a run that stopped at the target keeps its last success afterwards
            curve = {s: p for s, _, p in r['evals']}
            last, row = 0.0, []
            for s in steps:
                last = curve.get(s, last)
                row.append(last)
            rows.append(row)
        rows = np.array(rows)
        index = list(VARIANTS).index(name)   # one colour per variant (tab20: 20 of them)
        line, = ax.plot(steps, np.median(rows, axis=0), marker='o', ms=6 if len(steps) == 1 else 3,
                        color=plt.cm.tab20(index % 20), ls='-' if index < 10 else '--',
                        label=f'{name} (n={len(recs)})')
        ax.fill_between(steps, rows.min(axis=0), rows.max(axis=0), alpha=0.15,
                        color=line.get_color())
    ax.axhline(TARGET, color='grey', lw=0.8, ls='--')
    ax.set_xlabel('env steps (evaluation episodes not counted)')
    ax.set_ylabel(f'success over {EVAL_EPISODES} evaluation episodes')
    ax.set_title(f'{TASK}, {DEMO_EPISODES} demos: median and range over seeds')
    ax.legend(fontsize=8, loc='center right')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    """Run the comparison (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    p.add_argument('--out', default='runs/agents_compare')
    p.add_argument('--variants', nargs='*', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--seeds', nargs='*', type=int, default=[0, 1, 2])
    p.add_argument('--budget', type=int, default=BUDGET, help='env steps per run')
    p.add_argument('--threads', type=int, default=1, help='torch threads per run')
    p.add_argument('--report-only', action='store_true', help='table and plot of results.json')
    p.add_argument('--no-stop', action='store_true',
                   help='go on after the target to the budget (does the success last?)')
    args = p.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(out)
    if not args.report_only:
        for name in args.variants:
            for seed in args.seeds:
                if results.has(variant=name, seed=seed):
                    continue
                rec = run_one(name, seed, out, args.budget, stop=not args.no_stop)
                results.add(rec)
                print(f'{name} seed {seed}: evals (step, success) '
                      f'{[(s, p) for s, _, p in rec["evals"]]}', flush=True)
                print(f'{name} seed {seed}: steps_to_90={rec["steps_to_target"]} '
                      f'best={rec["best_success"]:.2f} env_steps={rec["env_steps"]} '
                      f'{rec["seconds"]:.0f} s critic_updates={rec["critic_updates"]} '
                      f'load {rec["load"]}', flush=True)
    results = results.load()
    plot(results, out / 'agents_compare.png')
    print(f'\n| variant | seeds | env steps to >= {TARGET:.0%} (median; per seed) | best success '
          f'(per seed) | after (per seed) | wall-clock s (per seed) | critic updates (per seed) |')
    print('|---|---|---|---|---|---|---|')
    summary = {}
    for name in VARIANTS:
        recs = sorted((r for r in results if r['variant'] == name), key=lambda r: r['seed'])
        if not recs:
            continue
        summary[name] = median_steps(recs, args.budget)
        per = ', '.join(str(r['steps_to_target']) if r['steps_to_target'] is not None
                        else f'>{r.get("budget", args.budget)}'
                        if r['env_steps'] >= r.get('budget', args.budget)
                        else 'not reached' for r in recs)
        best = ', '.join(f'{r["best_success"]:.2f}' for r in recs)
        after = ', '.join(success_after(r) for r in recs)
        seconds = ', '.join(f'{r["seconds"]:.0f}' for r in recs)
        updates = ', '.join(str(r['critic_updates']) for r in recs)
        print(f'| {name} | {len(recs)} | {summary[name]} ({per}) | {best} | {after} | {seconds} | '
              f'{updates} |')
    print(f'plot: {out / "agents_compare.png"}; cpu: {cpu_model()}')
    print(' '.join(f'{k}={v}' for k, v in summary.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
