"""
``serl_train``: the main job. Demos -> reward classifier -> RLPD through the full ROS 2 graph.

Usage::

    serl_train --run-dir runs/pick_cube            # make train runs this
    serl_train --run-dir runs/smoke --smoke        # a few hundred steps, tiny networks

Steps, each skipped when its output exists (so Ctrl-C and running the same command again
resumes where it stopped):

1. ``run_dir/demos/``: ``--demos`` successful scripted-expert episodes (failed ones are kept
   too) recorded through the live graph
   (``serl_launch record_demos``: sim, controller, actor with the expert, demo recorder), one
   MCAP bag per episode, observations with the state (incl. ``object_pos``) and the ``front``
   and ``wrist`` images. An interrupted recording keeps its finished episodes; the rest are
   recorded on the next run. Then ``run_dir/negatives/``: ``--negative-episodes`` of serl_sim's
   workspace explorer (``record_demos scripted:=explore``), failure frames for the classifier.
2. ``run_dir/reward_classifier.pt``: ``serl_train_reward`` on the demo and explorer bags
   (images only, labels from the sim's ground truth).
3. ``run_dir/policy.pt``: ``serl_launch sim`` (sim, controller, reward node with the
   classifier, actor, learner) trains RLPD (or ``--agent`` sac, awac, bc) on the state keys, with
   evaluation rounds of the deterministic policy; this process watches the graph
   (:mod:`serl_bringup.monitor_node`), prints one status line, writes TensorBoard logs
   (``run_dir/tensorboard``), the learning curve (``run_dir/learning_curve.png``,
   ``run_dir/evaluations.csv``) and, once an evaluation reaches ``--target-success`` or the learner
   has ``--max-env-steps`` env steps, saves the policy (``policy.pt``: the ``PolicyWeights`` data,
   a torch state dict; ``policy_config.json``; ``result.json``) and stops the graph. The learner
   resumes from its checkpoint and transition spool in ``run_dir``.

The steps live in :mod:`serl_bringup.job` (``cli``, ``record``, ``pretrain``,
``training_params``, ``train_rl``, ``forward_backward``); this module runs them in order.

Exit status: 0 when the job finished (target reached or step budget spent; ``--smoke``: every
liveness check passed), 1 on a failed step or check, 130 after Ctrl-C.
"""

import json
import os
from pathlib import Path
import signal
import sys
from typing import List, Optional

from serl_bringup.job.cli import parse_args
from serl_bringup.job.common import JobError, log
from serl_bringup.job.preflight import other_graph_nodes, task_of_run
from serl_bringup.job.pretrain import pretrain_encoder, train_reward
from serl_bringup.job.record import record_demos, record_negatives
from serl_bringup.job.train_rl import train
from serl_bringup.job.training_params import agent_settings_error
from serl_bringup.recipes import TASKS


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``serl_train``; returns the exit status."""
    args = parse_args(argv)
    other = task_of_run(Path(args.run_dir).resolve())
    if other is not None and other != args.task:
        log(f'error: {Path(args.run_dir).resolve()} holds a {other} run, not {args.task}: '
            f'give another --run-dir (or --task {other} to resume it)')
        return 2
    refused = agent_settings_error(args)
    if refused is not None:   # before any step: not after 10 minutes of demos
        log(f'error: agent settings: {refused}')
        return 2
    running = other_graph_nodes()
    if running:
        domain = os.environ.get('ROS_DOMAIN_ID', '0')
        log(f'error: another graph runs on ROS_DOMAIN_ID {domain} ({", ".join(running)} '
            f"stream /joint_states): two graphs on one domain exchange each other's robot "
            f'states, commands and transitions. Stop it, or start this job on another domain, '
            f'e.g. ROS_DOMAIN_ID={int(domain) + 1 if domain.isdigit() else 1} make train')
        return 2
    # Ctrl-C and SIGTERM stop the job cleanly (graph first). A process started in the
    # background by a non-interactive shell inherits SIGINT ignored, and so would the graph
    # processes: install the handlers explicitly (children then start with the default).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    run_dir = Path(args.run_dir).resolve()
    (run_dir / 'logs').mkdir(parents=True, exist_ok=True)
    (run_dir / 'job_args.json').write_text(json.dumps(vars(args), indent=2) + '\n')
    log(f'run directory {run_dir} (Ctrl-C stops; the same command resumes)')
    try:
        demos = record_demos(args, run_dir)
        negatives = record_negatives(args, run_dir)
        model = train_reward(args, run_dir, demos, negatives)
        encoder = pretrain_encoder(args, run_dir, demos)
        if TASKS[args.task].directions:   # two policies that reset each other
            from serl_bringup.job.forward_backward import train_forward_backward
            return train_forward_backward(args, run_dir, demos, model, encoder)
        return train(args, run_dir, demos, model, encoder)
    except JobError as exc:
        log(f'error: {exc}')
        return 1
    except KeyboardInterrupt:
        log('Ctrl-C: stopped (run the same command again to resume)')
        return 130


if __name__ == '__main__':
    sys.exit(main())
