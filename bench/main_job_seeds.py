"""
The main job through the graph, several variants x seeds, one run at a time: median and range.

Each run is the product command, ``bash scripts/train.sh --run-dir <out>/<variant>_s<seed>
--seed <seed> <variant's arguments>``, run to its end (target, step budget or timeout); a run
whose ``result.json`` exists is not run again, so an interrupted bench resumes (and an
interrupted run resumes where it stopped). The table and the last line read every run's
``result.json``: env steps when the first evaluation reached the target (``--target-success``,
20 episodes; forward-backward: both directions in one round, env steps of both), training
minutes, false-reward episodes, label queries (``--reward vice``), critic updates per env step,
scene resets per 50 training episodes (forward-backward).

Paired by default: the variants of one seed share what comes before RL. Before a run starts,
the files of steps 1 and 2 (demos, explorer episodes, reward classifier, image encoder) of an
earlier variant's run of the same seed are hard-linked into its run directory where the
arguments those steps read are the same (``--task``, ``--seed``, ``--demos``; explorer
episodes: ``--reward``, ``--negative-episodes``, ``--episode-steps``; classifier: also
``--reward-steps``, ``--reward-fpr``, ``--reward-min-threshold``; encoder:
``--encoder-steps``), so the variants differ in what they name, not in their demos or
classifier (whose recall varied most between unpaired runs). The job skips a step whose output exists. ``--no-share`` runs every step per run.

    python bench/main_job_seeds.py --out runs/bench_reward --variant classifier=
        --variant vice='--reward vice' --variant gt='--reward ground_truth'
    python bench/main_job_seeds.py --out runs/bench_bf16 --variant fp32=
        --variant auto='--precision auto'

(one command each; ``--seeds`` 0 1 2 by default).

Measure alone: on a 2-core machine anything else running slows the graph (the learner holds
its UTD, so env steps are comparable; minutes are not). The CPU model and the load at each
run's start and end are recorded.

Last line: ``<variant>_steps_median=... <variant>_steps_range=lo-hi <variant>_reached=k/n
<variant>_minutes_median=...`` for every variant, then ``cpu=...``.
"""

import argparse
import json
import os
from pathlib import Path
import shlex
import shutil
import statistics
import subprocess
import sys
import time

from agents_compare import cpu_model   # bench/ is on the path of a bench script

ROOT = Path(__file__).resolve().parents[1]


def parse_variant(text: str):
    """Parse ``name=arguments`` (the arguments split as a shell would)."""
    name, sep, rest = text.partition('=')
    if not sep or not name:
        raise argparse.ArgumentTypeError(f'--variant {text!r}: expected name=arguments')
    return name, shlex.split(rest)


def load() -> str:
    """Return the 1-minute load average as text."""
    return f'{os.getloadavg()[0]:.2f}'


#: What each shared file of steps 1 and 2 depends on: serl_train arguments that must agree.
SHARED_STEPS = (
    ('demos', ('task', 'seed', 'demos')),
    ('negatives', ('task', 'seed', 'demos', 'reward', 'negative_episodes', 'episode_steps')),
    ('reward_classifier*.pt', ('task', 'seed', 'demos', 'reward', 'negative_episodes',
                               'episode_steps', 'reward_steps', 'reward_fpr',
                               'reward_min_threshold')),
    ('image_encoder.pt', ('task', 'seed', 'demos', 'encoder_steps')),
)


def job_args(extra, seed: int) -> dict:
    """Return serl_train's parsed arguments for a variant's arguments and a seed."""
    from serl_bringup.job.cli import parse_args
    return vars(parse_args(['--seed', str(seed), *extra]))


def share_offline_steps(out: Path, name: str, extra, seed: int) -> str:
    """
    Hard-link steps 1-2's files of an earlier variant's run of ``seed`` into this run's.

    A donor is a run directory ``<out>/<other>_s<seed>`` whose training graph has started
    (``params_train.yaml`` exists: its steps 1 and 2 are complete); a file this run already has
    is kept. Returns the donors' names, comma-separated ('' when none was used).
    """
    run_dir = out / f'{name}_s{seed}'
    mine = job_args(extra, seed)
    donors = []
    for donor in sorted(out.glob(f'*_s{seed}')):
        args_file = donor / 'job_args.json'
        if donor == run_dir or not (donor / 'params_train.yaml').exists() \
                or not args_file.exists():
            continue
        theirs = json.loads(args_file.read_text())
        linked = []
        for pattern, keys in SHARED_STEPS:
            if any(mine.get(k) != theirs.get(k) for k in keys):
                continue
            for source in donor.glob(pattern):
                target = run_dir / source.name
                if target.exists():
                    continue
                run_dir.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target, copy_function=os.link)
                else:
                    os.link(source, target)
                linked.append(source.name)
        if linked:
            print(f'  {name} seed {seed}: {", ".join(linked)} shared from {donor.name}',
                  flush=True)
            donors.append(donor.name)
    return ','.join(donors)


def run_one(out: Path, name: str, extra, seed: int, budget: int, share: bool = True) -> dict:
    """Run (or resume) one seed of one variant; return its record (result.json and more)."""
    run_dir = out / f'{name}_s{seed}'
    record_path = out / f'{name}_s{seed}.json'
    if record_path.exists():
        return json.loads(record_path.read_text())
    shared = share_offline_steps(out, name, extra, seed) if share else ''
    cmd = ['bash', str(ROOT / 'scripts' / 'train.sh'), '--run-dir', str(run_dir),
           '--seed', str(seed), '--max-env-steps', str(budget), *extra]
    print(f'[{time.strftime("%H:%M:%S")}] {name} seed {seed}: {" ".join(cmd)} (load {load()})',
          flush=True)
    started, load_start = time.time(), load()
    with (out / f'{name}_s{seed}.log').open('ab') as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    result_path = run_dir / 'result.json'
    if code != 0 or not result_path.exists():
        print(f'  failed (exit {code}); see {out}/{name}_s{seed}.log', flush=True)
        return {'variant': name, 'seed': seed, 'failed': code}
    result = json.loads(result_path.read_text())
    record = {'variant': name, 'seed': seed, 'args': extra, 'result': result,
              'shared_from': shared,
              'end_to_end_min': round((time.time() - started) / 60.0, 1),
              'load': f'{load_start}-{load()}', 'cpu': cpu_model(),
              'finished': time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}
    record_path.write_text(json.dumps(record, indent=1) + '\n')
    return record


def summary(record: dict, target: float) -> dict:
    """Return the figures of one finished run: reached, env steps, minutes, counts."""
    result = record['result']
    ev = result.get('last_evaluation') or {}
    learner = result.get('learner') or {}
    reward = result.get('reward') or {}
    if 'directions' in result:   # forward-backward: both directions at the target
        evs = [d.get('last_evaluation') or {} for d in result['directions'].values()]
        ev = {'success_rate': min(e.get('success_rate', 0.0) for e in evs)}
    return {'reached': result.get('outcome') == 'target reached'
            and ev.get('success_rate', 0.0) >= target,
            'resets_per_50': result.get('resets_per_50_episodes'),
            'steps': int(result.get('env_steps', 0)),
            'minutes': round(float(result.get('wall_time_s', 0.0)) / 60.0, 1),
            'false_rewards': result.get('false_reward_episodes'),
            'queries': reward.get('answered'), 'caught': reward.get('answered_failure'),
            'utd': learner.get('run_utd')}


def main(argv=None) -> int:
    """Run the variants' seeds, print the table and the key=value line."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', type=Path, required=True, help='directory of the runs and records')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--variant', type=parse_variant, action='append', required=True,
                   help='name=serl_train arguments (repeat for several variants)')
    p.add_argument('--budget', type=int, default=25000, help='--max-env-steps of every run')
    p.add_argument('--target-success', type=float, default=0.9)
    p.add_argument('--no-share', dest='share', action='store_false',
                   help='record demos and train the classifier in every run (default: a '
                        "seed's variants share them where their arguments agree)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    records = {}
    for seed in args.seeds:   # seeds outer: a drift of the machine hits every variant alike
        for name, extra in args.variant:
            records[name, seed] = run_one(args.out, name, extra, seed, args.budget,
                                          args.share)
    print('| variant | seed | reached | env steps | training min | end to end min | false '
          'reward episodes | queries answered (failures caught) | UTD | resets per 50 '
          'episodes | load | finished |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|')
    pairs = []
    for name, _ in args.variant:
        figures = []
        for seed in args.seeds:
            record = records[name, seed]
            if 'failed' in record:
                print(f'| {name} | {seed} | failed (exit {record["failed"]}) '
                      '| | | | | | | | | |')
                continue
            f = summary(record, args.target_success)
            figures.append(f)
            queries = '' if f['queries'] is None else f'{f["queries"]} ({f["caught"]})'
            utd = '' if f['utd'] is None else f'{f["utd"]:.1f}'
            print(f'| {name} | {seed} | {"yes" if f["reached"] else "no"} | {f["steps"]} | '
                  f'{f["minutes"]} | {record["end_to_end_min"]} | {f["false_rewards"]} | '
                  f'{queries} | {utd} | {"" if f["resets_per_50"] is None else f["resets_per_50"]}'
                  f' | {record["load"]} | {record["finished"]} |')
        reached = [f for f in figures if f['reached']]
        steps = [f['steps'] for f in reached]
        minutes = [f['minutes'] for f in reached]
        pairs.append(f'{name}_reached={len(reached)}/{len(args.seeds)}')
        if steps:
            pairs += [f'{name}_steps_median={statistics.median(steps):.0f}',
                      f'{name}_steps_range={min(steps)}-{max(steps)}',
                      f'{name}_minutes_median={statistics.median(minutes):.1f}']
    print(' '.join(pairs + [f'cpu={cpu_model().replace(" ", "_")}']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
