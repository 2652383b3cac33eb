"""``serl_train``'s command line: its arguments, their defaults and the checks between them."""

import argparse
from typing import List, Optional

from serl_bringup.recipes import REWARD_SCALES, TASKS
from serl_common.overrides import parse_overrides


DESCRIPTION = ('The main job: demos -> reward classifier -> RLPD (or SAC, AWAC, BC) through '
               'the full ROS 2 graph; each step is skipped when its output exists, so the same '
               'command resumes.')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (see ``serl_train --help``)."""
    p = argparse.ArgumentParser(prog='serl_train', description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--run-dir', default=None,
                   help='run directory, resumed when it exists (default: runs/pick_cube for '
                        'the state task, runs/pick_cube_vision for the vision task)')
    p.add_argument('--task', default='PandaPickCube-v0', choices=sorted(TASKS),
                   help='simulated task: PandaPickCube-v0 learns from the state (the cube '
                        'position included), PandaPickCubeVision-v0 from the front and wrist '
                        'cameras and proprioception only, as on a real FR3')
    p.add_argument('--encoder-steps', type=int, default=2000,
                   help="vision tasks: Adam steps of the frozen image encoders' pretraining "
                        '(behaviour cloning of the demos from the cameras)')
    p.add_argument('--demos', type=int, default=20, help='scripted demo episodes to record')
    p.add_argument('--negative-episodes', type=int, default=30,
                   help='episodes of the scripted workspace explorer recorded as failure frames '
                        'for the reward classifier (0: demos only)')
    p.add_argument('--reward', default='classifier',
                   choices=('classifier', 'vice', 'ground_truth'),
                   help='reward source of the training graph: classifier (trained on the demos '
                        'and the explorer failure episodes, then fixed), vice (trained on the '
                        'demos only, no failure episodes recorded; updated while RL runs '
                        'against the states the policy visits, with label queries answered by '
                        "the sim's ground truth: config/reward_vice.yaml), ground_truth (the "
                        "sim's)")
    p.add_argument('--reward-scale', default='sparse', choices=sorted(REWARD_SCALES),
                   help="classifier and vice: the reward from the classifier's p(success | "
                        's): sparse (1 above its threshold, else 0) or log_p (log p, clipped '
                        'at -10; the agent scales it by 0.1)')
    p.add_argument('--max-env-steps', type=int, default=None,
                   help='stop when the learner has this many env steps (both directions '
                        "together for forward-backward; default: the task's, 10000 for "
                        'pick-cube, 30000 for bin relocation)')
    p.add_argument('--target-success', type=float, default=0.9,
                   help='stop when an evaluation round reaches this success rate')
    p.add_argument('--eval-every', type=int, default=20,
                   help='training episodes between evaluation rounds (their episodes are not '
                        'trained on nor counted as env steps)')
    p.add_argument('--eval-episodes', type=int, default=20, help='episodes per evaluation')
    p.add_argument('--agent', default='rlpd', choices=('rlpd', 'sac', 'awac', 'bc'),
                   help='the algorithm of the learner (serl_agent.agents): rlpd, sac (demos '
                        'seeded into its replay buffer), awac (offline phase on the demos, '
                        'then online), bc (cloned demos, no online learning)')
    p.add_argument('--agent-config', '--rlpd-config', dest='agent_config', default='',
                   help='YAML with a section named after the agent (empty: '
                        'config/agent_pick_cube.yaml, which has one for each agent)')
    p.add_argument('--agent-set', nargs='*', default=[], metavar='KEY=VALUE',
                   help='override fields of the agent config, e.g. --agent-set '
                        'actor_bc_weight=1 num_critics=10 (values as YAML; checked against '
                        "the agent's settings before any step runs)")
    p.add_argument('--precision', default=None, choices=('fp32', 'bf16', 'auto'),
                   help="the learner's matrix products (overrides the agent config's "
                        '"precision": bf16 autocast with fp32 weights, optimiser state and '
                        'losses; auto = bf16 where the CPU has AMX or AVX512-BF16)')
    p.add_argument('--teleop', default='none',
                   choices=('none', 'keyboard', 'spacemouse', 'gamepad', 'external'),
                   help='a person may take over while it trains (HIL-SERL): the teleop node '
                        'in the training graph; the transitions they drive go to the online '
                        'and the demo buffer (keyboard: this terminal; external: a teleop '
                        'publisher started elsewhere)')
    p.add_argument('--viz', action='store_true',
                   help='a live view while it trains: open ws://127.0.0.1:8765 in the '
                        'Foxglove app (serl_viewer)')
    p.add_argument('--prior', nargs='*', default=[], metavar='RUN_DIR',
                   help='earlier runs whose transitions (successes and failures) join the '
                        'demos as prior data, e.g. runs/pick_cube_seed0')
    p.add_argument('--episode-steps', type=int, default=None,
                   help='env steps per training and evaluation episode (10 Hz; default: the '
                        "task's, 50 for pick-cube, 100 for bin relocation)")
    p.add_argument('--reward-fpr', type=float, default=0.001,
                   help='false-positive rate on held-out failure frames the classifier '
                        'threshold is chosen for (per frame: at 10 Hz, 0.01 gave ~30 %% of '
                        '50-step episodes a false success)')
    p.add_argument('--reward-min-threshold', type=float, default=0.95,
                   help='lowest decision threshold of the classifier, whatever its held-out '
                        'failure frames allow: at 0.5 a policy learned to hold the cube '
                        'grasped short of the success line, rewarded in 109 of 132 episodes '
                        '(docs/reward.md)')
    p.add_argument('--reward-steps', type=int, default=500,
                   help='gradient steps of the reward classifier')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--smoke', action='store_true',
                   help='CI smoke run: 2 demos, tiny networks, a few hundred steps; checks '
                        'that every node publishes and writes graph_check.json')
    p.add_argument('--timeout', type=float, default=0.0,
                   help='give up training after this many seconds (0: no limit)')
    args = p.parse_args(argv)
    if not 0.0 <= args.reward_min_threshold < 1.0:
        p.error(f'--reward-min-threshold must be in [0, 1), got {args.reward_min_threshold}')
    try:
        args.agent_overrides = parse_overrides(args.agent_set, '--agent-set')
    except ValueError as error:
        p.error(str(error))
    if args.reward == 'ground_truth' and args.reward_scale != 'sparse':
        p.error(f'--reward-scale {args.reward_scale} needs a classifier reward (--reward '
                f"classifier or vice); ground_truth is the sim's 0/1 success")
    if args.run_dir is None:
        args.run_dir = TASKS[args.task].run_dir
    if args.episode_steps is None:
        args.episode_steps = TASKS[args.task].episode_steps
    if args.max_env_steps is None:
        args.max_env_steps = TASKS[args.task].max_env_steps
    if args.smoke:
        args.demos = min(args.demos, 2)
        args.negative_episodes = min(args.negative_episodes, 1)
        args.max_env_steps = min(args.max_env_steps, 300)
        args.eval_every = 1
        args.eval_episodes = 1
        args.reward_steps = min(args.reward_steps, 30)
        args.encoder_steps = min(args.encoder_steps, 5)
        args.target_success = 2.0  # unreachable: the smoke run stops on its checks
    return args
