"""
``serl_record_demos``: record scripted-expert demos in a serl_sim env straight into a bag.

The fast path (no ROS graph, no DDS): runs ``serl_sim.experts.make_expert(env)`` in the
Gymnasium env and writes the same ``serl_msgs/Transition`` messages the actor node publishes on
``/serl/transitions`` into an :class:`serl_agent.data.bag_io.EpisodeBagWriter` recording (one
complete MCAP bag per episode), so the demo buffer cannot tell the two apart. Expert actions
are marked ``intervention=True``.

Example::

    serl_record_demos --task PandaPickCube-v0 --episodes 20 --output bags/demos
"""

import argparse
import sys
from typing import List, Optional

import gymnasium as gym

from serl_agent.data.bag_io import BagError, EpisodeBagWriter, make_typestore
from serl_agent.data.transition_codec import dict_to_transition, rosbags_types
from serl_agent.runtime.episode_runner import as_agent_env, EpisodeResult, EpisodeRunner


def record_demos(env: gym.Env, expert, output: str, episodes: int, seed: int = 0,
                 storage: str = 'mcap', successful_only: bool = False,
                 max_attempts: Optional[int] = None, actor_id: str = 'expert',
                 log=print, success_hold_steps: int = 0) -> List[EpisodeResult]:
    """
    Record ``episodes`` expert episodes of ``env`` into the recording directory ``output``.

    :param env: Gymnasium env (Dict observations, or Box wrapped to ``{'state': ...}``).
    :param expert: ``obs -> action`` (float32 (A,) in [-1, 1]).
    :param output: recording directory (created; existing bags in it are kept).
    :param episodes: number of episodes to keep.
    :param seed: seed of the first episode; episode i uses ``seed + i``.
    :param storage: ``'mcap'`` or ``'sqlite3'``.
    :param successful_only: keep recording until ``episodes`` successful episodes are written;
        failed ones are still written (the demo buffer can filter them) but do not count.
    :param max_attempts: give up after this many episodes (default ``4 * episodes``).
    :param actor_id: ``actor_id`` of the transitions.
    :param log: progress printer.
    :param success_hold_steps: steps the expert keeps holding after an episode's first success
        (see :class:`serl_agent.runtime.episode_runner.EpisodeRunner`; ``serl_train``'s demos: 20).
    :returns: one :class:`EpisodeResult` per episode run.
    :raises RuntimeError: fewer successful episodes than asked within ``max_attempts``.
    """
    env = as_agent_env(env)
    store = make_typestore()
    types = rosbags_types(store)
    runner = EpisodeRunner(env, actor_id, success_hold_steps=success_hold_steps)
    results: List[EpisodeResult] = []
    attempts = max_attempts if max_attempts is not None else 4 * episodes
    kept = 0
    with EpisodeBagWriter(output, storage=storage, typestore=store,
                          success_hold_steps=success_hold_steps) as writer:
        existing = len([p for p in writer.directory.iterdir() if p.name.startswith(actor_id)])
        while kept < episodes and len(results) < attempts:
            index = existing + len(results)

            def emit(tr):
                writer.write(dict_to_transition(tr, types), tr['stamp_ns'])

            result = runner.run_episode(lambda o: (expert(o), True), index,
                                        seed=seed + len(results), on_transition=emit)
            results.append(result)
            kept += 1 if (result.success or not successful_only) else 0
            log(f'episode {index}: {result.steps} steps, return {result.episode_return:.2f}, '
                f'{"success" if result.success else "failure"}')
    if kept < episodes:
        raise RuntimeError(f'only {kept} of {episodes} successful episodes in {attempts} '
                           'attempts')
    return results


def main(argv=None) -> int:
    """Command line entry point (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog='serl_record_demos',
        description='Record scripted-expert demos of a serl_sim env into rosbag2 (MCAP) bags '
                    'of serl_msgs/Transition, one bag per episode.')
    parser.add_argument('--task', default='PandaPickCube-v0', help='Gymnasium env id')
    parser.add_argument('--episodes', type=int, default=20)
    parser.add_argument('--output', default='bags/demos', help='recording directory')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--successful-only', action='store_true',
                        help='keep going until --episodes successful episodes are recorded')
    parser.add_argument('--success-hold-steps', type=int, default=0,
                        help='steps the expert keeps holding after the first success '
                             '(serl_train records 20; the env time limit still applies)')
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error('--episodes must be >= 1')
    if args.success_hold_steps < 0:
        parser.error('--success-hold-steps must be >= 0')
    import serl_sim  # noqa: F401 - registers the envs
    from serl_sim.experts import make_expert
    env = gym.make(args.task)
    try:
        results = record_demos(env, make_expert(env), args.output, args.episodes,
                               seed=args.seed, storage=args.storage,
                               successful_only=args.successful_only,
                               success_hold_steps=args.success_hold_steps)
    except (BagError, RuntimeError) as exc:
        print(f'serl_record_demos: {exc}', file=sys.stderr)
        return 1
    finally:
        env.close()
    wins = sum(r.success for r in results)
    print(f'recorded {len(results)} episodes ({wins} successful, '
          f'{sum(r.steps for r in results)} transitions) into {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
