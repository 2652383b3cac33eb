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

Exit status: 0 when the job finished (target reached or step budget spent; ``--smoke``: every
liveness check passed), 1 on a failed step or check, 130 after Ctrl-C.
"""

import argparse
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Callable, List, Optional

from serl_bringup.recipes import CAMERAS, direction_dir, directions_of, REWARD_SCALES, TASKS
from serl_common.overrides import parse_overrides
from tqdm import tqdm
import yaml


#: s; the actor's stale-state limit in sim: the sim's reset pauses its state stream, which on
#: a loaded 2-core machine can exceed the 0.5 s default (keep the default on the real arm).
SIM_STATE_TIMEOUT = 1.0


class JobError(RuntimeError):
    """A step of the main job failed; the text says which and where its log is."""


def log(message: str) -> None:
    """Print one line of the job's narrative (not the status line)."""
    print(f'[serl_train] {message}', flush=True)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (see ``serl_train --help``)."""
    p = argparse.ArgumentParser(prog='serl_train', description=__doc__.split('\n\n')[0],
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
    p.add_argument('--max-env-steps', type=int, default=10000,
                   help='stop when the learner has this many env steps')
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
    p.add_argument('--reward-steps', type=int, default=500,
                   help='gradient steps of the reward classifier')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--smoke', action='store_true',
                   help='CI smoke run: 2 demos, tiny networks, a few hundred steps; checks '
                        'that every node publishes and writes graph_check.json')
    p.add_argument('--timeout', type=float, default=0.0,
                   help='give up training after this many seconds (0: no limit)')
    args = p.parse_args(argv)
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


def config_dir() -> Path:
    """Return the project's ``config/`` directory."""
    from serl_bringup.graph import default_config_dir
    return default_config_dir()


def complete_bags(directory: Path) -> List[Path]:
    """Return the finished episode bags in ``directory`` (not ``.partial``/incomplete)."""
    if not directory.is_dir():
        return []
    return sorted(d for d in directory.iterdir()
                  if d.is_dir() and not d.name.startswith('.')
                  and not d.name.endswith('_incomplete') and (d / 'metadata.yaml').exists())


def set_aside_incomplete(directory: Path, aside: Path) -> List[Path]:
    """
    Move the bags of episodes that did not finish out of the demo directory.

    An episode the actor aborted (stale robot state) or that Ctrl-C cut is closed by the demo
    recorder as ``<name>_incomplete``; the classifier and the demo buffer read every bag of
    the directory, so such bags go to ``aside``.

    :returns: the moved bags (new paths).
    """
    moved = []
    for bag in sorted(directory.glob('*_incomplete')) if directory.is_dir() else []:
        aside.mkdir(parents=True, exist_ok=True)
        moved.append(bag.rename(aside / bag.name))
    if moved:
        log(f'{len(moved)} unfinished demo episode(s) set aside in {aside}')
    return moved


def write_yaml(path: Path, data: dict) -> Path:
    """Write ``data`` as YAML to ``path`` and return the path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Graph:
    """
    A ``serl_launch`` graph in its own session; output to a log file.

    :param argv: ``serl_launch`` arguments.
    :param log_path: file that receives the graph's stdout and stderr.
    """

    def __init__(self, argv: List[str], log_path: Path):
        self.log_path = log_path
        self._log = log_path.open('ab')
        env = dict(os.environ)
        env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        self.proc = subprocess.Popen(['serl_launch', *argv], stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True, env=env)

    def running(self) -> bool:
        """Return True while the launcher runs."""
        return self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> int:
        """SIGINT the launcher (it stops every node); SIGKILL the group after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything left in the session
        except ProcessLookupError:
            pass
        self._log.close()
        return self.proc.returncode


# ---------------------------------------------------------------------- step 1: demos
def successful_bags(directory: Path) -> int:
    """Return how many finished episode bags in ``directory`` contain a successful step."""
    from serl_agent.data.bag_io import read_transitions
    bags = complete_bags(directory)
    if not bags:
        return 0
    return len({item.bag for item in read_transitions(bags) if item.msg.success})


def record_demos(args, run_dir: Path) -> Path:
    """
    Record scripted demo episodes into ``run_dir/demos`` until ``--demos`` of them succeeded.

    Failed episodes stay (the demo buffer and the classifier use them too); unfinished ones are
    set aside. At most three recording sessions, then :class:`JobError`.
    """
    demos = run_dir / 'demos'
    # the actor paces by the wall clock: when a loaded machine slows the sim below real time,
    # the expert needs more steps (episodes end at success anyway); bin relocation's expert
    # takes 45-80 steps before it holds the success
    steps = 300 if args.smoke else 150 if TASKS[args.task].directions else 100
    for direction in directions_of(args):
        directory = direction_dir(demos, direction)
        have = _record_until(args, run_dir, directory, 'expert', args.demos, successful_bags,
                             'demo episodes succeeded', episode_steps=steps,
                             direction=direction)
        log(f'step 1/3 demos: {have} successful episodes ({len(complete_bags(directory))} in '
            f'all) in {directory}')
    return demos


def record_negatives(args, run_dir: Path) -> Optional[Path]:
    """
    Record ``--negative-episodes`` of serl_sim's workspace explorer into ``run_dir/negatives``.

    Failure frames for the reward classifier from where the demos never go (HIL-SERL records
    them by teleoperation): without them, the classifier trained on demos alone called frames of
    the arm far from the cube successes and RLPD learned to fly there (docs/benchmarks.md).
    Labels are the sim's ground truth. Returns None when no negatives are wanted.
    """
    if args.reward != 'classifier' or args.negative_episodes <= 0:
        return None
    negatives = run_dir / 'negatives'
    # forward-backward: per direction (an explorer frame with the cube left in A is a failure
    # of forward, a success of backward)
    for direction in directions_of(args):
        directory = direction_dir(negatives, direction)
        have = _record_until(args, run_dir, directory, 'explore', args.negative_episodes,
                             lambda d: len(complete_bags(d)), 'explorer episodes recorded',
                             episode_steps=30 if args.smoke else args.episode_steps,
                             direction=direction)
        log(f'step 1/3 negatives: {have} explorer episodes in {directory}')
    return negatives


def _record_until(args, run_dir: Path, directory: Path, scripted: str, wanted: int,
                  count: Callable[[Path], int], counted: str, episode_steps: int,
                  direction: str = '') -> int:
    """
    Record ``scripted`` episodes into ``directory`` until ``count(directory) >= wanted``.

    At most three recording sessions; returns the count.

    :raises JobError: still fewer than ``wanted`` after three sessions (the message says
        ``<count> of <wanted> <counted>``).
    """
    what = _recording_name(directory, direction)
    for _ in range(3):
        have = count(directory)
        if have >= wanted:
            return have
        _record_session(args, run_dir, directory, wanted - have, scripted, episode_steps,
                        direction)
    have = count(directory)
    if have < wanted:
        raise JobError(f'{have} of {wanted} {counted} after 3 recording sessions; see '
                       f'{run_dir}/logs/record_{what}.log')
    return have


def _recording_name(directory: Path, direction: str) -> str:
    """Return the name of a recording's logs and files: ``demos`` or ``demos_forward``."""
    return f'{directory.parent.name}_{direction}' if direction else directory.name


def _record_session(args, run_dir: Path, directory: Path, missing: int, scripted: str,
                    episode_steps: int, direction: str = '') -> None:
    total = len(complete_bags(directory))
    what = _recording_name(directory, direction)
    log(f'step 1/3 {what}: recording {missing} scripted episodes ({scripted}) through the ROS '
        f'graph into {directory} (log: {run_dir}/logs/record_{what}.log)')
    params = write_yaml(run_dir / f'params_{what}.yaml', {
        'actor_node': {'ros__parameters': {
            'seed': args.seed * 1000 + total, 'spool_dir': str(run_dir / f'actor_spool_{what}'),
            'drain_timeout': 10.0, 'state_timeout': SIM_STATE_TIMEOUT,
            'max_episode_steps': episode_steps}},
        'sim_node': {'ros__parameters': {'seed': args.seed * 1000 + total}},
    })
    argv = ['record_demos', f'task:={args.task}', f'episodes:={missing}',
            f'output:={directory}', 'cameras:=' + ','.join(CAMERAS),
            f'scripted:={scripted}', f'params_file:={params}']
    if direction:
        argv.append(f'direction:={direction}')
    graph = Graph(argv, run_dir / 'logs' / f'record_{what}.log')
    deadline = time.monotonic() + 120.0 + 60.0 * missing
    bar = tqdm(total=missing, desc=f'recording {what}', unit='episode', disable=None,
               dynamic_ncols=True)   # a progress bar on a terminal, nothing in a log
    n = 0
    try:
        while graph.running() and time.monotonic() < deadline:
            n = len(complete_bags(directory)) - total
            bar.update(n - bar.n)
            if n >= missing:
                break
            time.sleep(1.0)
    finally:
        bar.close()
        graph.stop()
        set_aside_incomplete(directory, run_dir / f'{what}_incomplete')
    log(f'recorded {n}/{missing} {what} episodes')


# ---------------------------------------------------------------------- step 2: reward
def train_reward(args, run_dir: Path, demos: Path,
                 negatives: Optional[Path] = None) -> Optional[Path]:
    """Train the success classifier on the demo (and explorer) images (``serl_train_reward``)."""
    if args.reward == 'ground_truth':
        log('step 2/3 reward classifier: not needed (reward ground_truth)')
        return None
    if TASKS[args.task].directions:   # one classifier per direction: the graph's placeholder
        for direction in directions_of(args):
            _train_reward_model(
                args, run_dir, run_dir / f'reward_classifier_{direction}.pt',
                demos / direction, negatives / direction if negatives is not None else None)
        return run_dir / 'reward_classifier_{direction}.pt'
    return _train_reward_model(args, run_dir, run_dir / 'reward_classifier.pt', demos,
                               negatives)


def _train_reward_model(args, run_dir: Path, model: Path, demos: Path,
                        negatives: Optional[Path]) -> Path:
    if model.exists():
        log(f'step 2/3 reward classifier: {model} (skipped)')
        return model
    suffix = model.stem[len('reward_classifier'):]   # '_forward' for a direction's
    log_path = run_dir / 'logs' / f'train_reward{suffix}.log'
    sources = [str(demos)] + ([str(negatives)] if negatives is not None else [])
    log(f'step 2/3 reward classifier: training on {" + ".join(sources)} (log: {log_path})')
    if args.reward == 'vice':
        log('  VICE: no failure episodes are recorded; the first classifier separates the '
            'success frames of the demos from their other frames, and learns the rest from the '
            'states the policy visits')
    cmd = ['serl_train_reward', *sources, '--output', str(model), '--image-keys', *CAMERAS,
           '--steps', str(args.reward_steps), '--seed', str(args.seed),
           '--target-fpr', str(args.reward_fpr)]
    if args.smoke:
        # one held-out episode: the others (>= 1 success) train
        cmd += ['--holdout', '0.01', '--batch-size', '16']
    with log_path.open('ab') as out:   # on a terminal its progress bar (stderr) shows there
        code = subprocess.call(cmd, stdout=out,
                               stderr=None if sys.stderr.isatty() else subprocess.STDOUT)
    if code != 0 or not model.exists():
        raise JobError(f'serl_train_reward failed (exit {code}); see {log_path}')
    tail = [ln for ln in log_path.read_text().splitlines() if ln.strip()][-3:]
    for line in tail:
        log(f'  {line}')
    return model


def pretrain_encoder(args, run_dir: Path, demos: Path) -> Optional[Path]:
    """Vision tasks: pretrain the frozen image encoders on the demos (behaviour cloning)."""
    recipe = TASKS[args.task]
    if not recipe.image_encoder:
        return None
    encoder = run_dir / 'image_encoder.pt'
    if encoder.exists():
        log(f'step 2/3 image encoder: {encoder} (skipped)')
        return encoder
    log_path = run_dir / 'logs' / 'pretrain_encoder.log'
    log(f'step 2/3 image encoder: behaviour cloning of the demos in {demos} from the cameras '
        f'(log: {log_path})')
    # forward-backward: one frozen encoder for both directions, from both directions' demos
    sources = [str(direction_dir(demos, d)) for d in directions_of(args)]
    cmd = ['serl_pretrain_encoder', *sources, '--objective', 'bc', '--cameras',
           *recipe.cameras, '--output', str(encoder), '--steps', str(args.encoder_steps),
           '--seed', str(args.seed)]
    with log_path.open('ab') as out:
        code = subprocess.call(cmd, stdout=out,
                               stderr=None if sys.stderr.isatty() else subprocess.STDOUT)
    if code != 0 or not encoder.exists():
        raise JobError(f'serl_pretrain_encoder failed (exit {code}); see {log_path}')
    return encoder


# ---------------------------------------------------------------------- step 3: RL
def smoke_agent_config(run_dir: Path, agent: str) -> Path:
    """Write the tiny-network config of the smoke run for ``agent``."""
    tiny = {'batch_size': 16, 'hidden_dims': [32, 32]}
    if agent != 'bc':
        tiny.update(num_critics=2, utd_ratio=2)
    if agent in ('awac', 'bc'):
        tiny.update(offline_steps=20)
    return write_yaml(run_dir / f'{agent}_smoke.yaml', {agent: tiny})


def training_graph_argv(args, run_dir: Path, demos: str, model: Optional[Path],
                        encoder: Optional[Path] = None) -> List[str]:
    """Return the ``serl_launch`` arguments of the training graph (writes its parameters)."""
    params = training_params(args, run_dir, encoder)
    argv = ['sim', f'task:={args.task}', f'reward:={args.reward}', f'demos:={demos}',
            f'run_dir:={run_dir}', f'params_file:={params}',
            f'teleop:={args.teleop}', f'viz:={str(args.viz).lower()}']
    if model is not None:
        argv.append(f'reward_model:={model}')
    return argv


def reward_scale_name(args) -> str:
    """Return the run's ``--reward-scale`` ('sparse' for arguments made before it existed)."""
    return getattr(args, 'reward_scale', 'sparse')


def agent_overrides(args) -> dict:
    """Return the agent config fields the job replaces: reward form, precision, --agent-set."""
    overrides = dict(REWARD_SCALES[reward_scale_name(args)].agent)
    if getattr(args, 'precision', None):
        overrides['precision'] = args.precision
    overrides.update(getattr(args, 'agent_overrides', {}))   # the user's last: they win
    return overrides


def agent_settings_error(args) -> Optional[str]:
    """Return why the agent's settings with the job's overrides are refused, or None."""
    from serl_agent.agents.registry import load_config
    path = args.agent_config or str(config_dir() / 'agent_pick_cube.yaml')
    try:
        load_config(args.agent, path, **agent_overrides(args))
    except (TypeError, ValueError) as error:
        return str(error)
    return None


def training_params(args, run_dir: Path, encoder: Optional[Path] = None) -> Path:
    """Write the parameter overrides of the training graph (``params_train.yaml``)."""
    recipe = TASKS[args.task]
    agent_config = args.agent_config or str(config_dir() / 'agent_pick_cube.yaml')
    if args.smoke:
        agent_config = str(smoke_agent_config(run_dir, args.agent))
    scale = REWARD_SCALES[reward_scale_name(args)]
    overrides = agent_overrides(args)
    if overrides:   # the chosen config with these fields replaced
        data = yaml.safe_load(Path(agent_config).read_text()) or {}
        data.setdefault(args.agent, {}).update(overrides)
        agent_config = str(write_yaml(run_dir / f'{args.agent}_config.yaml', data))
    actor = {'eval_every': args.eval_every, 'eval_episodes': args.eval_episodes,
             'seed': args.seed * 100000, 'spool_dir': str(run_dir / 'actor_spool'),
             'state_timeout': SIM_STATE_TIMEOUT, 'max_episode_steps': args.episode_steps,
             # success counted by the sim (the classifier's reward still ends episodes)
             'ground_truth_success': True}
    actor.update(scale.actor)
    if recipe.cameras:
        actor.update(image_keys=list(recipe.cameras))
    if not recipe.object_pose:
        actor.update(object_pose=False)
    learner = {'observation_keys': list(recipe.observation_keys), 'agent': args.agent,
               'agent_config': str(Path(agent_config).resolve()), 'seed': args.seed,
               'prior_paths': [str(Path(p).resolve()) for p in args.prior] or ['']}
    if encoder is not None:
        actor.update(image_encoder=str(encoder))
        learner.update(image_encoder=str(encoder))
    if args.smoke:
        actor.update(max_episode_steps=30, drain_timeout=5.0)
        learner.update(training_starts=20, publish_every=2, checkpoint_every=10.0)
    # forward-backward: one learner per direction, namespaced (graph.directions_of)
    learner_key = '/**/learner_node' if recipe.directions else 'learner_node'
    params = {
        'actor_node': {'ros__parameters': actor},
        learner_key: {'ros__parameters': learner},
        'sim_node': {'ros__parameters': {'seed': args.seed}},
    }
    reward_node = {}
    if scale.node_mode != 'sparse':
        reward_node['mode'] = scale.node_mode
    if args.smoke and args.reward == 'vice':
        # a query a second about any frame, a VICE round every 5 frame sets: the smoke run
        # sees both loops close within its few hundred steps
        reward_node.update(query_interval=1.0, query_min_probability=0.0,
                           vice_update_interval=5)
    if reward_node:
        reward_key = '/**/reward_node' if recipe.directions else 'reward_node'
        params[reward_key] = {'ros__parameters': reward_node}
    return write_yaml(run_dir / 'params_train.yaml', params)


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
    from serl_bringup.graph_watch import WatchedGraph
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
                             scale=reward_scale_name(args)),
              # the last status covers its last second only: the run's UTD too
              'learner': dict(learner, run_utd=learner.get('critic_updates', 0.0)
                              / max(learner.get('env_steps', 0.0), 1.0))}
    path = save_policy(run_dir, weights, result)
    log(f'policy version {weights.version} saved to {path}')
    return 0


def other_graph_nodes(wait: float = 1.5) -> List[str]:
    """
    Return the nodes of a robot already streaming ``/joint_states`` on this ROS domain.

    Another training graph (its sim) or a robot would exchange robot states, commands, resets
    and transitions with the graph this job starts. Alive means a message within ``wait``
    seconds (a dead process can stay in the discovery data for a while; it sends nothing).
    Runs in a context of its own, shut down before returning.
    """
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from serl_common import qos

    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        node = Node('serl_train_probe', context=context)
        executor.add_node(node)
        received = []
        node.create_subscription(JointState, '/joint_states', received.append, qos.SENSOR)
        deadline = time.monotonic() + wait
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        names: List[str] = []
        name_deadline = time.monotonic() + 2.0
        while received:   # a name may arrive after the first message (discovery data)
            names = sorted({info.node_name for info in
                            node.get_publishers_info_by_topic('/joint_states')})
            if '_NODE_NAME_UNKNOWN_' not in names or time.monotonic() > name_deadline:
                break
            executor.spin_once(timeout_sec=0.05)
        node.destroy_node()
        return names
    finally:
        executor.shutdown()
        rclpy.try_shutdown(context=context)


def task_of_run(run_dir: Path) -> Optional[str]:
    """Return the task an existing run directory was started with (its job_args.json)."""
    try:
        return json.loads((run_dir / 'job_args.json').read_text()).get('task')
    except (OSError, ValueError, AttributeError):
        return None


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
            from serl_bringup.forward_backward_job import train_forward_backward
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
