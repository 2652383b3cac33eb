"""
Step 3 of ``serl_train``: the training graph run and watched until its target or budget.

:func:`train` starts ``serl_launch sim`` (sim, controller, reward node, actor, learner), shows
one status line, writes TensorBoard scalars and the learning curve, and, once an evaluation
reaches ``--target-success`` or the learner has ``--max-env-steps`` env steps, saves the policy
(``policy.pt``, ``policy_config.json``, ``result.json``) and stops the graph.
"""

import json
from pathlib import Path
import time
from typing import Optional

from serl_bringup.job.common import JobError, log
from serl_bringup.job.training_params import training_graph_argv


def save_policy(run_dir: Path, weights, result: dict) -> Path:
    """Write ``policy.pt`` (torch state dict bytes), ``policy_config.json``, ``result.json``."""
    (run_dir / 'policy_config.json').write_text(weights.config)
    tmp = run_dir / 'policy.pt.tmp'
    tmp.write_bytes(bytes(weights.data))
    (run_dir / 'result.json').write_text(json.dumps(result, indent=2) + '\n')
    tmp.replace(run_dir / 'policy.pt')  # last: its existence marks the step as done
    return run_dir / 'policy.pt'


def smoke_checks(monitor, progress, reward: str = 'classifier') -> dict:
    """
    Return ``{check: passed}`` for the smoke run (every node alive, weights round trip).

    With ``reward`` vice, also: the reward node updated its classifier and a label query was
    answered (by the label server, from the sim's ground truth).
    """
    alive = monitor.alive()
    checks = {f'{node} publishes {topic}': count > 0
              for topic, (node, count) in alive.items()}
    checks['learner received transitions'] = progress.env_steps > 0
    checks['learner published trained weights (version > 0)'] = \
        any(v > 0 for v in monitor.weights)
    checks['actor acted with trained weights (EpisodeSummary.policy_version > 0)'] = \
        (progress.policy_version or 0) > 0
    checks['reward node scored frames'] = progress.reward_frames > 0
    checks['an evaluation round completed'] = progress.last_evaluation is not None
    if reward == 'vice':
        summary = progress.reward_summary()
        checks['reward node updated its classifier (VICE)'] = \
            summary.get('classifier_updates', 0) > 0
        checks['a label query was answered (RAQ, label server)'] = \
            summary.get('answered', 0) > 0
    return checks


def train(args, run_dir: Path, demos: Path, model: Optional[Path],
          encoder: Optional[Path] = None) -> int:
    """Run the training graph and watch it until done; return the exit status."""
    from torch.utils.tensorboard import SummaryWriter

    from serl_bringup.curve import plot_learning_curve
    from serl_bringup.job.graph_watch import WatchedGraph
    from serl_bringup.progress import Progress

    if (run_dir / 'policy.pt').exists() and not args.smoke:
        log(f'step 3/3 {args.agent.upper()}: {run_dir}/policy.pt exists, the run is complete '
            f'(skipped; result: {run_dir}/result.json)')
        return 0
    argv = training_graph_argv(args, run_dir, demos, model, encoder)
    log_path = run_dir / 'logs' / 'train_graph.log'
    log(f'step 3/3 {args.agent.upper()}: serl_launch {" ".join(argv)}')
    log(f'  graph log: {log_path}; TensorBoard: tensorboard --logdir {run_dir}/tensorboard')
    progress = Progress(run_dir, args.eval_episodes)
    writer = SummaryWriter(str(run_dir / 'tensorboard'))
    status = 1
    false_rewards = progress.false_rewards
    try:
        with WatchedGraph(argv, log_path, progress) as watch:
            monitor = watch.monitor
            while True:
                time.sleep(0.5)
                with monitor.lock:
                    line = progress.status_line(args.max_env_steps)
                    learner = dict(progress.learner)
                    steps = progress.env_steps
                    rewarded, new_false = progress.training_rewarded, progress.false_rewards
                if new_false > false_rewards:
                    false_rewards = new_false
                    watch.end_line()
                    log(f'reward: a training episode the classifier rewarded is no success for '
                        f'the sim (a false positive; {new_false} of {rewarded} rewarded '
                        f'training episodes so far)')
                for ev in monitor.take_evaluations():
                    writer.add_scalar('eval/success_rate', ev.success_rate, ev.env_steps)
                    writer.add_scalar('eval/mean_return', ev.mean_return, ev.env_steps)
                    plot_learning_curve(progress.evaluations, run_dir / 'learning_curve.png',
                                        title=f'{args.task}, seed {args.seed}',
                                        target=min(args.target_success, 1.0))
                    watch.end_line()
                    log(f'evaluation {ev.eval_round}: {ev.successes}/{ev.episodes} successes '
                        f'at {ev.env_steps} env steps, {ev.wall_time_s / 60:.1f} min '
                        f'(policy v{ev.policy_version})')
                if learner and watch.due('tensorboard', 5.0):
                    with monitor.lock:
                        _write_scalars(writer, progress, learner, steps)
                watch.show(line)
                if watch.due('save', 5.0):
                    with monitor.lock:
                        progress.save()
                ev = progress.last_evaluation
                if args.smoke and (all(smoke_checks(monitor, progress, args.reward).values())
                                   or steps >= args.max_env_steps):
                    outcome = 'smoke checks done'
                elif not args.smoke and ev is not None and \
                        ev.success_rate >= args.target_success:
                    outcome = 'target reached'
                else:
                    outcome = watch.stop_reason(steps, args.max_env_steps, args.timeout)
                if outcome is not None:
                    break
            watch.end_line()
            log(f'{outcome}: {progress.status_line(args.max_env_steps)}')
            status = _finish(args, run_dir, monitor, progress, outcome, learner)
    except KeyboardInterrupt:
        print(flush=True)
        log('Ctrl-C: stopping the graph (run the same command again to resume)')
        status = 130
    finally:
        progress.save()
        if progress.evaluations:
            plot_learning_curve(progress.evaluations, run_dir / 'learning_curve.png',
                                title=f'{args.task}, seed {args.seed}',
                                target=min(args.target_success, 1.0))
        writer.close()
    return status


def _write_scalars(writer, progress, learner: dict, steps: int) -> None:
    """TensorBoard: the learner's last status and the run's counters at ``steps``."""
    for key in ('achieved_utd', 'updates_per_second', 'temperature', 'critic_loss',
                'actor_loss', 'critic_updates'):
        value = learner.get(key)
        if value is not None and value == value:  # NaN: no update in the window
            writer.add_scalar(f'learner/{key}', value, steps)
    writer.add_scalar('actor/episodes', progress.episodes, steps)
    writer.add_scalar('reward/rewarded_episodes', progress.training_rewarded, steps)
    writer.add_scalar('reward/false_reward_episodes', progress.false_rewards, steps)
    writer.add_scalar('actor/intervention_steps', progress.intervention_steps, steps)
    for key, value in progress.reward_summary().items():
        writer.add_scalar(f'reward/{key}', value, steps)
    writer.flush()


def _finish(args, run_dir: Path, monitor, progress, outcome: str, learner: dict) -> int:
    """
    Write what a finished watch leaves: the smoke run's checks, or the policy and result.json.

    :returns: the exit status (a smoke run: 0 when every check passed; a run that reached its
        target or budget: 0; otherwise 1).
    :raises JobError: no policy weights arrived from the learner.
    """
    if args.smoke:
        checks = smoke_checks(monitor, progress, args.reward)
        (run_dir / 'graph_check.json').write_text(json.dumps(
            {'checks': checks, 'topics': {t: c for t, (_, c) in monitor.alive().items()},
             'env_steps': progress.env_steps, 'reward': progress.reward_summary()},
            indent=2) + '\n')
        for name, ok in checks.items():
            log(f'  {"ok  " if ok else "FAIL"} {name}')
        weights = monitor.weights_for(None)
        if weights is not None:   # the smoke run's policy, for serl_eval's smoke test
            save_policy(run_dir, weights, {'outcome': 'smoke', 'task': args.task,
                                           'agent': args.agent, 'seed': args.seed,
                                           'env_steps': progress.env_steps,
                                           'policy_version': int(weights.version)})
        return 0 if all(checks.values()) else 1
    if outcome not in ('target reached', 'step budget spent'):
        return 1
    ev = progress.last_evaluation
    weights = monitor.weights_for(ev.policy_version if outcome == 'target reached'
                                  else None) or monitor.weights_for(None)
    if weights is None:
        raise JobError('no policy weights were received from the learner')
    result = {'outcome': outcome, 'task': args.task, 'agent': args.agent, 'seed': args.seed,
              'env_steps': progress.env_steps, 'wall_time_s': progress.wall_time_s,
              'policy_version': int(weights.version),
              'last_evaluation': None if ev is None else vars(ev),
              'training_episodes': progress.training_episodes,
              'rewarded_training_episodes': progress.training_rewarded,
              'false_reward_episodes': progress.false_rewards,
              'intervention_steps': progress.intervention_steps,
              'intervened_episodes': progress.intervened_episodes,
              'reward': dict(progress.reward_summary(), source=args.reward,
                             scale=args.reward_scale),
              # the last status covers its last second only: the run's UTD too
              'learner': dict(learner, run_utd=learner.get('critic_updates', 0.0)
                              / max(learner.get('env_steps', 0.0), 1.0))}
    path = save_policy(run_dir, weights, result)
    log(f'policy version {weights.version} saved to {path}')
    return 0
