"""
Step 1 of ``serl_train``: scripted episodes recorded through the live graph, one bag each.

The demos (``serl_launch record_demos``: sim, controller, actor with the scripted expert, demo
recorder) and the workspace explorer's failure episodes for the reward classifier; a
forward-backward task records both directions. An interrupted recording keeps its finished
episodes; the rest are recorded on the next run.
"""

from pathlib import Path
import time
from typing import Callable, Optional

from serl_bringup.job.bags import complete_bags, set_aside_incomplete, successful_bags
from serl_bringup.job.common import JobError, log, SIM_STATE_TIMEOUT, write_yaml
from serl_bringup.job.launched_graph import Graph
from serl_bringup.recipes import CAMERAS, direction_dir, directions_of, TASKS
from tqdm import tqdm


def record_demos(args, run_dir: Path) -> Path:
    """
    Record scripted demo episodes into ``run_dir/demos`` until ``--demos`` of them succeeded.

    And as many from each of the recipe's ``extra_demo_starts`` (``demos/<direction>/<area>``).
    Failed episodes stay (the demo buffer and the classifier use them too); unfinished ones are
    set aside. At most three recording sessions, then :class:`JobError`.
    """
    demos = run_dir / 'demos'
    # the actor paces by the wall clock: when a loaded machine slows the sim below real time,
    # the expert needs more steps (episodes end at success anyway); bin relocation's expert
    # takes 45-80 steps before it holds the success
    steps = 300 if args.smoke else 150 if TASKS[args.task].directions else 100
    for direction in directions_of(args):
        for area in ('',) + TASKS[args.task].extra_demo_starts:
            directory = direction_dir(demos, direction) / area if area else \
                direction_dir(demos, direction)
            what = '_'.join(w for w in ('demos', direction, area) if w)
            have = _record_until(args, run_dir, directory, 'expert', args.demos,
                                 successful_bags, 'demo episodes succeeded', episode_steps=steps,
                                 direction=direction, what=what, start_area=area)
            log(f'step 1/3 demos: {have} successful episodes ({len(complete_bags(directory))} '
                f'in all) in {directory}')
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
                  direction: str = '', what: str = '', start_area: str = '') -> int:
    """
    Record ``scripted`` episodes into ``directory`` until ``count(directory) >= wanted``.

    At most three recording sessions; returns the count. ``what``: the recording's name in
    logs and files (default :func:`_recording_name`); ``start_area``: sim_node's.

    :raises JobError: still fewer than ``wanted`` after three sessions (the message says
        ``<count> of <wanted> <counted>``).
    """
    what = what or _recording_name(directory, direction)
    for _ in range(3):
        have = count(directory)
        if have >= wanted:
            return have
        _record_session(args, run_dir, directory, wanted - have, scripted, episode_steps,
                        direction, what, start_area)
    have = count(directory)
    if have < wanted:
        raise JobError(f'{have} of {wanted} {counted} after 3 recording sessions; see '
                       f'{run_dir}/logs/record_{what}.log')
    return have


def _recording_name(directory: Path, direction: str) -> str:
    """Return the name of a recording's logs and files: ``demos`` or ``demos_forward``."""
    return f'{directory.parent.name}_{direction}' if direction else directory.name


def _record_session(args, run_dir: Path, directory: Path, missing: int, scripted: str,
                    episode_steps: int, direction: str, what: str, start_area: str) -> None:
    total = len(complete_bags(directory))
    log(f'step 1/3 {what}: recording {missing} scripted episodes ({scripted}) through the ROS '
        f'graph into {directory} (log: {run_dir}/logs/record_{what}.log)')
    params = write_yaml(run_dir / f'params_{what}.yaml', {
        'actor_node': {'ros__parameters': {
            'seed': args.seed * 1000 + total, 'spool_dir': str(run_dir / f'actor_spool_{what}'),
            'drain_timeout': 10.0, 'state_timeout': SIM_STATE_TIMEOUT,
            'max_episode_steps': episode_steps}},
        'sim_node': {'ros__parameters': {'seed': args.seed * 1000 + total,
                                         'start_area': start_area}},
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
