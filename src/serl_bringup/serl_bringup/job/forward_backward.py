"""
Step 3 of ``serl_train`` for a forward-backward task: train both directions through the graph.

``serl_launch sim task:=PandaBinRelocation-v0`` runs a learner and a reward classifier per
direction and one actor that runs the directions in turns without resetting the scene
(:mod:`serl_bringup.graph`, :class:`serl_agent.ros.actor_node.ActorNode`). This module watches
it: a :class:`~serl_bringup.progress.Progress` per direction (``<run_dir>/<direction>/``:
evaluations, learning curve, counters), the scene resets the actor counted, one status line.
It stops when an evaluation round has both directions at ``--target-success``, when the
learners have ``--max-env-steps`` env steps in all, or on Ctrl-C (the same command resumes),
and saves each direction's policy to ``<run_dir>/<direction>/policy.pt``.
"""

import json
from pathlib import Path
import time
from typing import Dict, Optional, Tuple

from serl_bringup.job.common import log
from serl_bringup.job.train_rl import save_policy
from serl_bringup.job.training_params import training_graph_argv
from serl_bringup.recipes import TASKS


def status_line(progresses: Dict[str, object], resets: Tuple[int, int],
                max_env_steps: int) -> str:
    """
    One line: env steps in all, each direction's last evaluation and UTD, resets, minutes.

    :param progresses: direction -> :class:`~serl_bringup.progress.Progress`.
    :param resets: (scene resets, of them because the object was out of reach).
    :param max_env_steps: the step budget (0: none).
    """
    steps = sum(p.env_steps for p in progresses.values())
    parts = [f'steps {steps}' + (f'/{max_env_steps}' if max_env_steps else '')]
    for direction, p in progresses.items():
        ev = p.last_evaluation
        success = f'{100 * ev.success_rate:.0f}%' if ev else 'n/a'
        utd = p.learner.get('achieved_utd')
        parts.append(f'{direction}: {p.env_steps} steps, eval {success}'
                     + (f', UTD {utd:.1f}' if utd is not None else ''))
    episodes = sum(p.training_episodes for p in progresses.values())
    first = next(iter(progresses.values()))
    parts.append(f'resets {resets[0]} ({resets[1]} out of reach) in {episodes} episodes')
    parts.append(f'{first.wall_time_s / 60:.1f} min')
    return ' | '.join(parts)


RESETS_JSON = 'resets.json'


def earlier_resets(run_dir: Path) -> Tuple[int, int]:
    """Return the scene resets of the run's earlier sessions (``resets.json``; 0, 0 if none)."""
    try:
        data = json.loads((run_dir / RESETS_JSON).read_text())
        return int(data['resets']), int(data['out_of_reach_resets'])
    except (OSError, ValueError, KeyError, TypeError):
        return 0, 0


def save_resets(run_dir: Path, resets: Tuple[int, int]) -> None:
    """Write the run's scene resets so far to ``resets.json`` (a resumed run adds to them)."""
    tmp = run_dir / (RESETS_JSON + '.tmp')
    tmp.write_text(json.dumps({'resets': resets[0], 'out_of_reach_resets': resets[1]}) + '\n')
    tmp.replace(run_dir / RESETS_JSON)


def target_round(progresses: Dict[str, object], target: float) -> Optional[int]:
    """Return the evaluation round where every direction reached ``target``, else None."""
    last = [p.last_evaluation for p in progresses.values()]
    if any(ev is None for ev in last) or len({ev.eval_round for ev in last}) != 1:
        return None
    return last[0].eval_round if all(ev.success_rate >= target for ev in last) else None


def train_forward_backward(args, run_dir: Path, demos: Path, model: Optional[Path],
                           encoder: Optional[Path] = None) -> int:
    """Run the forward-backward training graph and watch it until done; return the exit status."""
    from torch.utils.tensorboard import SummaryWriter

    from serl_bringup.curve import plot_learning_curve
    from serl_bringup.job.graph_watch import WatchedGraph
    from serl_bringup.progress import Progress

    directions = TASKS[args.task].directions
    if all((run_dir / d / 'policy.pt').exists() for d in directions):
        log(f'step 3/3 {args.agent.upper()}: both policies exist, the run is complete (skipped; '
            f'result: {run_dir}/result.json)')
        return 0
    for direction in directions:
        (run_dir / direction).mkdir(parents=True, exist_ok=True)
    argv = training_graph_argv(args, run_dir, str(demos), model, encoder)
    log_path = run_dir / 'logs' / 'train_graph.log'
    log(f'step 3/3 {args.agent.upper()}, forward-backward (reset-free): serl_launch '
        f'{" ".join(argv)}')
    log(f'  graph log: {log_path}; TensorBoard: tensorboard --logdir {run_dir}/tensorboard')
    progresses = {d: Progress(run_dir / d, args.eval_episodes) for d in directions}
    writer = SummaryWriter(str(run_dir / 'tensorboard'))
    before = earlier_resets(run_dir)   # this session's actor counts its own from 0
    resets = before
    status = 1
    try:
        with WatchedGraph(argv, log_path, progresses) as watch:
            monitor = watch.monitor
            while True:
                time.sleep(0.5)
                with monitor.lock:
                    resets = (before[0] + monitor.resets,
                              before[1] + monitor.out_of_reach_resets)
                    line = status_line(progresses, resets, args.max_env_steps)
                    steps = sum(p.env_steps for p in progresses.values())
                for ev in monitor.take_evaluations():
                    p = progresses.get(ev.direction)
                    if p is None:
                        continue
                    writer.add_scalar(f'eval/{ev.direction}/success_rate', ev.success_rate,
                                      steps)
                    plot_learning_curve(p.evaluations,
                                        run_dir / ev.direction / 'learning_curve.png',
                                        title=f'{args.task} {ev.direction}, seed {args.seed}',
                                        target=min(args.target_success, 1.0))
                    watch.end_line()
                    log(f'evaluation {ev.eval_round} {ev.direction}: {ev.successes}/'
                        f'{ev.episodes} successes at {steps} env steps in all ({ev.env_steps} '
                        f'{ev.direction}), {ev.wall_time_s / 60:.1f} min; resets {resets[0]}')
                if watch.due('tensorboard', 5.0):
                    with monitor.lock:
                        learners = {d: dict(p.learner) for d, p in progresses.items()}
                    _write_scalars(writer, learners, resets, steps)
                watch.show(line)
                if watch.due('save', 5.0):
                    save_resets(run_dir, resets)
                    with monitor.lock:
                        for p in progresses.values():
                            p.save()
                with monitor.lock:
                    reached = target_round(progresses, args.target_success)
                outcome = 'target reached' if reached is not None else \
                    watch.stop_reason(steps, args.max_env_steps, args.timeout)
                if outcome is not None:
                    break
            watch.end_line()
            log(f'{outcome}: {line}')
            if outcome in ('target reached', 'step budget spent'):
                status = _save_policies(args, run_dir, monitor, progresses, outcome, resets,
                                        steps)
    except KeyboardInterrupt:
        print(flush=True)
        log('Ctrl-C: stopping the graph (run the same command again to resume)')
        status = 130
    finally:
        save_resets(run_dir, resets)
        for p in progresses.values():
            p.save()
        writer.close()
    return status


def _write_scalars(writer, learners: Dict[str, dict], resets: Tuple[int, int],
                   steps: int) -> None:
    """TensorBoard: each direction's learner status and the scene resets at ``steps``."""
    for d, learner in learners.items():
        for key in ('achieved_utd', 'updates_per_second', 'critic_loss'):
            value = learner.get(key)
            if value is not None and value == value:   # NaN: no update in the window
                writer.add_scalar(f'learner/{d}/{key}', value, steps)
    writer.add_scalar('forward_backward/resets', resets[0], steps)
    writer.add_scalar('forward_backward/out_of_reach_resets', resets[1], steps)
    writer.flush()


def _save_policies(args, run_dir: Path, monitor, progresses, outcome: str,
                   resets: Tuple[int, int], steps: int) -> int:
    """Save each direction's evaluated (or newest) policy and the run's result.json."""
    per_direction = {}
    for direction, p in progresses.items():
        ev = p.last_evaluation
        version = ev.policy_version if outcome == 'target reached' and ev else None
        weights = monitor.weights_for(version, direction) or monitor.weights_for(None, direction)
        if weights is None:
            log(f'error: no policy weights were received from the {direction} learner')
            return 1
        result = {'outcome': outcome, 'task': args.task, 'direction': direction,
                  'seed': args.seed, 'env_steps': p.env_steps,
                  'policy_version': int(weights.version),
                  'last_evaluation': None if ev is None else vars(ev),
                  'training_episodes': p.training_episodes, 'learner': dict(p.learner)}
        path = save_policy(run_dir / direction, weights, result)
        log(f'{direction} policy version {weights.version} saved to {path}')
        per_direction[direction] = result
    episodes = sum(p.training_episodes for p in progresses.values())
    summary = {'outcome': outcome, 'task': args.task, 'agent': args.agent, 'seed': args.seed,
               'env_steps': steps, 'wall_time_s': next(iter(progresses.values())).wall_time_s,
               'training_episodes': episodes, 'resets': resets[0],
               'out_of_reach_resets': resets[1],
               'resets_per_50_episodes': round(50.0 * resets[0] / max(episodes, 1), 2),
               # the interventions (a person's on a robot): the scene's setup not counted
               'out_of_reach_resets_per_50_episodes': round(
                   50.0 * resets[1] / max(episodes, 1), 2),
               'directions': per_direction}
    (run_dir / 'result.json').write_text(json.dumps(summary, indent=2) + '\n')
    return 0
