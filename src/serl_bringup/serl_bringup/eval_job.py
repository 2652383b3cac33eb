"""
``serl_eval``: evaluate a trained run's policy, print and save the result, film it.

Usage::

    serl_eval --run-dir runs/pick_cube                        # 20 episodes through the graph
    serl_eval --run-dir runs/pick_cube --video eval.mp4       # front | wrist, step, p, outcome
    serl_eval --run-dir runs/pick_cube --no-ros               # the Gymnasium env, no ROS
    serl_eval --run-dir runs/pick_cube --robot real           # the FR3 (asks first)

Loads ``policy.pt`` and ``policy_config.json`` (what ``serl_train`` saves) and the run's task
and episode length (``result.json``, ``params_train.yaml``). Through the graph (default), the
same ``sim`` graph as training runs without a learner: the actor acts with the saved policy
(``policy_file``, deterministic) for ``--episodes`` episodes, success counted by the sim; the
run's reward classifier scores the frames when it has one. This process collects the episode
summaries, the camera frames and the reward probability. ``--no-ros`` runs the same policy in
the task's Gymnasium env (:func:`serl_agent.runtime.evaluation.evaluate_policy`).

A forward-backward run (``serl_train --task PandaBinRelocation-v0``: a policy per direction in
``<run-dir>/<direction>/``) is evaluated direction by direction, each episode from a reset into
that direction (through the graph: the sim's ground truth, no classifier).

Writes ``<run-dir>/eval_<UTC time>.json`` (success rate, mean episode length and return, per
episode; per direction for a forward-backward run) and, with ``--video``, an H.264 MP4 of the
front and wrist cameras side by side with the episode, step, reward probability and outcome
drawn on them. A run without a policy, a policy whose observation keys the task does not
provide, or a video path that cannot be written: one line naming the file and the mismatch,
exit status 1, before any episode runs.
"""

import argparse
import json
from pathlib import Path
import sys
import threading
import time
from typing import List, Optional

from serl_bringup.recipes import CAMERAS, STATE_KEYS
import yaml


class EvalError(RuntimeError):
    """Bad input: no policy, a policy that does not fit the task, an unwritable video."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog='serl_eval', description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--run-dir', required=True, help='a run of serl_train (policy.pt)')
    p.add_argument('--episodes', type=int, default=20)
    p.add_argument('--video', default='', help='MP4 file to film the episodes into')
    p.add_argument('--seed', type=int, default=0, help='first episode seed (sim)')
    p.add_argument('--robot', default='sim', choices=('sim', 'real'))
    p.add_argument('--no-ros', action='store_true', help='the Gymnasium env, no ROS graph')
    p.add_argument('--timeout', type=float, default=0.0, help='give up after (s; 0: never)')
    p.add_argument('--yes', action='store_true', help='robot real: do not ask')
    return p.parse_args(argv)


def run_directions(run_dir: Path) -> List[str]:
    """Return the directions of a forward-backward run (each with a policy), else ``['']``."""
    found = [d for d in ('forward', 'backward') if (run_dir / d / 'policy.pt').exists()]
    return found or ['']


def load_run(run_dir: Path, direction: str = '') -> dict:
    """
    Return the run's policy and settings: ``{'policy', 'task', 'episode_steps', 'keys'}``.

    :param direction: a forward-backward run's direction (its policy in ``run_dir/<direction>``).
    :raises EvalError: no policy, or one whose observation keys the task does not provide.
    """
    from serl_agent.data.policy_io import load_policy_file

    if not run_dir.is_dir():
        raise EvalError(f'{run_dir}: no such run directory')
    policy_path = (run_dir / direction if direction else run_dir) / 'policy.pt'
    try:
        policy = load_policy_file(policy_path)
    except ValueError as e:
        raise EvalError(str(e)) from None
    result = _read(run_dir / 'result.json', json.loads) or {}
    params = _read(run_dir / 'params_train.yaml', yaml.safe_load) or {}
    actor = params.get('actor_node', {}).get('ros__parameters', {})
    task = result.get('task', 'PandaPickCube-v0')
    spec = policy.policy_config['observation']
    keys = sorted(spec.get('state', {})) + sorted(spec.get('images', {}))
    # a vision policy of serl_train acts on the frozen features of its cameras
    encoder = run_dir / 'image_encoder.pt'
    suffix = '_features'
    featured = [k[:-len(suffix)] for k in keys if k.endswith(suffix)]
    if featured and not encoder.exists():
        raise EvalError(f'{run_dir / "policy.pt"} acts on features of {featured}, but the '
                        f'run has no image encoder ({encoder})')
    observed = sorted(k for k in keys if not k.endswith(suffix)) + featured
    provided = set(STATE_KEYS) | set(CAMERAS)
    if spec['type'] != 'dict' or not set(observed) <= provided:
        raise EvalError(f'{policy_path}: the policy observes {keys}; the task {task} '
                        f'provides {sorted(provided)}')
    return {'policy': policy, 'task': task, 'keys': observed, 'direction': direction,
            'image_encoder': str(encoder.resolve()) if featured else '',
            'episode_steps': int(actor.get('max_episode_steps', 50))}


def _read(path: Path, parse):
    try:
        return parse(path.read_text())
    except (OSError, ValueError):
        return None


def open_video(path: str):
    """Create the video file now (before any episode): ``VideoWriter`` or None."""
    from serl_agent.runtime.video import VideoError, VideoWriter

    if not path:
        return None
    try:
        return VideoWriter(path, fps=10.0)
    except VideoError as e:
        raise EvalError(str(e)) from None


def evaluate_without_ros(args, run: dict, video) -> dict:
    """Evaluate in the task's Gymnasium env (filmed by its front camera, ``render()``)."""
    import gymnasium as gym
    from serl_agent.runtime.evaluation import evaluate_policy
    import serl_sim  # noqa: F401 - registers the tasks

    kwargs = {'direction': run['direction']} if run.get('direction') else {}
    env = gym.make(run['task'], max_episode_steps=run['episode_steps'],
                   render_mode='rgb_array' if video is not None else None, **kwargs)
    if run['image_encoder']:
        from serl_agent.vision.image_features import ImageFeaturesWrapper
        env = ImageFeaturesWrapper(env, run['image_encoder'])
    try:
        return evaluate_policy(run['policy'], env, args.episodes, seed=args.seed, video=video)
    finally:
        env.close()


class _Watcher:
    """Episode summaries, camera frames and the reward probability, from the graph."""

    def __init__(self, node, video):
        from sensor_msgs.msg import Image
        from serl_common import qos
        from serl_msgs.msg import EpisodeSummary, RewardStamped

        self.lock = threading.Lock()
        self.summaries, self.frames, self.probability, self.video = [], {}, None, video
        self.step = 0
        node.create_subscription(EpisodeSummary, '/serl/episode_summary', self._on_summary,
                                 qos.RELIABLE)
        node.create_subscription(RewardStamped, '/reward', self._on_reward, qos.SENSOR)
        if video is not None:
            for cam in CAMERAS:
                node.create_subscription(Image, f'/cameras/{cam}/image_raw',
                                         lambda m, c=cam: self._on_image(c, m), qos.SENSOR)

    def _on_reward(self, msg) -> None:
        self.probability = float(msg.probability)

    def _on_image(self, camera: str, msg) -> None:
        from serl_agent.runtime.video import compose
        from serl_reward.image_codec import image_to_array

        with self.lock:
            self.frames[camera] = image_to_array(msg, 'rgb8')
            if camera != CAMERAS[0] or len(self.frames) < len(CAMERAS):
                return   # one video frame per front-camera image, once both cameras are seen
            p = 'n/a' if self.probability is None else f'{self.probability:.2f}'
            self.video.add(compose(self.frames, [
                f'episode {len(self.summaries) + 1} step {self.step}', f'reward p {p}']))
            self.step += 1

    def _on_summary(self, msg) -> None:
        from serl_agent.runtime.video import compose

        with self.lock:
            self.summaries.append(msg)
            self.step = 0
            if self.video is not None and len(self.frames) == len(CAMERAS):
                last = compose(self.frames, [f'episode {len(self.summaries)}: '
                                             f'{msg.steps} steps',
                                             'SUCCESS' if msg.success else 'failure'])
                for _ in range(10):
                    self.video.add(last)


def evaluate_in_graph(args, run_dir: Path, run: dict, video) -> dict:
    """Run the graph without a learner until ``--episodes`` episodes are summarised."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.signals import SignalHandlerOptions
    from serl_agent.runtime.evaluation import summarize
    from serl_bringup.job.common import write_yaml
    from serl_bringup.job.launched_graph import Graph

    direction = run.get('direction', '')
    out = run_dir / 'eval'
    out.mkdir(exist_ok=True)
    model = run_dir / 'reward_classifier.pt'
    policy_dir = run_dir / direction if direction else run_dir
    actor = {'policy_file': str((policy_dir / 'policy.pt').resolve()), 'deterministic': True,
             'max_episodes': args.episodes, 'max_episode_steps': run['episode_steps'],
             'seed': args.seed, 'spool_dir': '', 'drain_timeout': 0.1,
             'ground_truth_success': args.robot == 'sim'}
    cameras = [k for k in run['keys'] if k in CAMERAS]
    if cameras:   # a vision policy: the actor's observations carry its cameras
        actor['image_keys'] = cameras
        actor['object_pose'] = False
    if run['image_encoder']:
        actor['image_encoder'] = run['image_encoder']
    if direction:   # every episode reset into that direction; success by the sim
        actor['directions'] = [direction]
    params = write_yaml(out / 'params_eval.yaml', {'actor_node': {'ros__parameters': actor},
                                                   'sim_node': {'ros__parameters':
                                                                {'seed': args.seed}}})
    argv = [args.robot, 'learner:=false', f'params_file:={params}', f'run_dir:={out}']
    argv += ([f'task:={run["task"]}'] if args.robot == 'sim' else [])
    if direction:
        argv += ['forward_backward:=false', 'reward:=ground_truth']
    else:
        argv += (['reward:=classifier', f'reward_model:={model}'] if model.exists()
                 else ['reward:=ground_truth'])
    print(f'[serl_eval] serl_launch {" ".join(argv)} (log: {out / "graph.log"})', flush=True)
    rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
    node = Node('serl_eval')
    watcher = _Watcher(node, video)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    graph = Graph(argv, out / 'graph.log')
    start = time.monotonic()
    try:
        while len(watcher.summaries) < args.episodes:
            if not graph.running():
                raise EvalError(f'the graph stopped; see {out / "graph.log"}')
            if args.timeout and time.monotonic() - start > args.timeout:
                raise EvalError(f'timeout after {args.timeout:.0f} s with '
                                f'{len(watcher.summaries)} of {args.episodes} episodes')
            time.sleep(0.1)
    finally:
        graph.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    with watcher.lock:
        return summarize([{'steps': int(m.steps), 'return': float(m.episode_return),
                           'success': bool(m.success)}
                          for m in watcher.summaries[:args.episodes]])


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``serl_eval``; returns the exit status."""
    args = parse_args(argv)
    run_dir = Path(args.run_dir)
    video = None
    try:
        if args.episodes < 1:
            raise EvalError(f'--episodes {args.episodes}: evaluate at least one episode')
        directions = run_directions(run_dir)
        runs = {d: load_run(run_dir, d) for d in directions}
        run = runs[directions[0]]
        if args.robot == 'real' and not args.yes:
            answer = input(f'serl_eval: {args.episodes} episodes of {run_dir} on the real FR3; '
                           'the workspace is clear and the stop button at hand? [yes/N] ')
            if answer.strip().lower() != 'yes':
                print('serl_eval: not started', file=sys.stderr)
                return 1
        video = open_video(args.video)
        results = {d: (evaluate_without_ros(args, r, video) if args.no_ros
                       else evaluate_in_graph(args, run_dir, r, video))
                   for d, r in runs.items()}
        if directions == ['']:
            result = results['']
        else:   # forward-backward: per direction, and the worse one as the run's figure
            result = dict(min(results.values(), key=lambda r: r['success_rate']),
                          directions=results)
    except EvalError as e:
        print(f'serl_eval: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('serl_eval: interrupted', file=sys.stderr)
        return 130
    finally:
        if video is not None:
            video.close()
    result.update(run_dir=str(run_dir), task=run['task'], robot=args.robot,
                  path='gymnasium' if args.no_ros else 'graph', seed=args.seed,
                  video=args.video or None, video_frames=video.frames if video else 0)
    stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
    path = run_dir / f'eval_{stamp}.json'
    path.write_text(json.dumps(result, indent=2) + '\n')
    for direction, r in (result.get('directions') or {'': result}).items():
        print(f'[serl_eval] {direction + ": " if direction else ""}{r["episodes"]} episodes: '
              f'success {r["success_rate"]:.0%}, mean length {r["mean_length"]:.1f} steps, '
              f'mean return {r["mean_return"]:.2f}')
    print(f'[serl_eval] {path}' + (f'; video {args.video}' if video else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
