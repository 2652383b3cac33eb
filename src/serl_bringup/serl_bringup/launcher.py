"""
``serl_launch``: start a serl-ros2 graph on a machine without launch_ros.

Usage, mirroring ``ros2 launch``::

    serl_launch sim task:=PandaPickCube-v0 reward:=ground_truth
    serl_launch sim --show-args
    serl_launch sim --dry-run        # print the command lines, start nothing

Every node of the graph (:mod:`serl_bringup.graph`) runs as its own process, started with the
same command line launch_ros would use (:mod:`serl_bringup.command_line`). The launcher reports
a node that exits, restarts a ``respawn`` node (the learner) after a delay that doubles with
each death within ``RESPAWN_WINDOW`` seconds, stops the whole graph when a ``required`` node
dies (a respawning one: its ``RESPAWN_LIMIT``-th death within the window), and on Ctrl-C
(SIGINT) or SIGTERM stops every node: SIGINT first, then SIGTERM, then SIGKILL after a grace
period.
Exit status: 0 after a clean stop, 1 when a required node died, 2 on a usage error.
"""

import argparse
import os
from pathlib import Path
import shlex
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from serl_bringup.command_line import command_line
from serl_bringup.graph import default_config_dir, get_graph, GRAPHS, NodeSpec


def parse_launch_arguments(items: Sequence[str]) -> Dict[str, str]:
    """
    Parse ``name:=value`` items.

    :raises ValueError: for an item without ``:=``.

    """
    values = {}
    for item in items:
        name, sep, value = item.partition(':=')
        if not sep or not name:
            raise ValueError(f"launch arguments are name:=value, got '{item}'")
        values[name] = value
    return values


def _print_status(message: str) -> None:
    print(f'[serl_launch] {message}', file=sys.stderr, flush=True)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


# A respawning node that dies this many times within this many seconds stops the graph.
RESPAWN_LIMIT = 3
RESPAWN_WINDOW = 120.0


class GraphProcesses:
    """
    The processes of one running graph.

    :param specs: the nodes to start.
    :param grace_period: seconds each stop signal is given before the next, stronger one.
    :param log: where status lines go (default: stderr).

    """

    def __init__(self, specs: List[NodeSpec], grace_period: float = 10.0, log=None,
                 respawn_limit: int = RESPAWN_LIMIT, respawn_window: float = RESPAWN_WINDOW):
        self._specs = specs
        self._grace = grace_period
        self.log = log or _print_status
        self._procs: Dict[str, subprocess.Popen] = {}
        self._reported: set = set()
        self._argv: Dict[str, List[str]] = {}
        self._env: Optional[Dict[str, str]] = None
        self._deaths: Dict[str, List[float]] = {}
        self._restart_at: Dict[str, float] = {}
        self.respawn_limit = respawn_limit
        self.respawn_window = respawn_window
        self.restarts: Dict[str, int] = {}

    def start(self, env: Optional[Dict[str, str]] = None) -> None:
        """Start every node (command lines are built first, so a missing one starts none)."""
        self._argv = {spec.label: command_line(spec) for spec in self._specs}
        self._env = env
        for spec in self._specs:
            self._launch(spec.label)

    def _launch(self, name: str) -> None:
        self._procs[name] = subprocess.Popen(self._argv[name], env=self._env)
        self.log(f'started {name} (pid {self._procs[name].pid})')

    def poll(self) -> Optional[str]:
        """
        Report nodes that exited since the last call; restart ``respawn`` nodes when due.

        :return: the name of a required node that exited (a respawning one: that died
            ``respawn_limit`` times within ``respawn_window`` s), else None.

        """
        now = time.monotonic()
        for spec in self._specs:
            name = spec.label
            if name in self._restart_at:
                if now >= self._restart_at[name]:
                    del self._restart_at[name]
                    self._reported.discard(name)
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    self._launch(name)
                continue
            proc = self._procs.get(name)
            if proc is None or name in self._reported or proc.poll() is None:
                continue
            self._reported.add(name)
            code = proc.returncode
            what = f'node {name} died (exit code {code})' if code else f'node {name} exited'
            if spec.respawn:
                deaths = [t for t in self._deaths.get(name, []) if now - t < self.respawn_window]
                deaths.append(now)
                self._deaths[name] = deaths
                if len(deaths) < self.respawn_limit:
                    delay = spec.respawn_delay * 2 ** (len(deaths) - 1)
                    self._restart_at[name] = now + delay
                    self.log(f'{what}: restarting it in {delay:.0f} s (death {len(deaths)} of '
                             f'{self.respawn_limit} allowed within {self.respawn_window:.0f} s)')
                    continue
                what += (f': death {len(deaths)} within {self.respawn_window:.0f} s, the '
                         f'limit: not restarted')
            self.log(what)
            if spec.required:
                return name
        return None

    def running(self) -> List[str]:
        """Names of the nodes running or about to be restarted."""
        return [name for name, p in self._procs.items()
                if p.poll() is None or name in self._restart_at]

    def stop(self) -> None:
        """Stop every node: SIGINT, then SIGTERM, then SIGKILL, each after the grace period."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            alive = [p for p in self._procs.values() if p.poll() is None]
            if not alive:
                return
            for proc in alive:
                proc.send_signal(sig)
            deadline = time.monotonic() + self._grace
            while time.monotonic() < deadline and any(p.poll() is None for p in alive):
                time.sleep(0.05)


def check_inputs(specs: Sequence[NodeSpec]) -> None:
    """
    Refuse to start a graph whose reward node would fail at once for want of its model.

    :raises FileNotFoundError: naming the classifier file and what to run first.
    """
    for spec in specs:
        model = dict(spec.parameters).get('model_path') if spec.name == 'reward_node' else None
        if model and not Path(model).exists():
            raise FileNotFoundError(
                f'reward:=classifier needs the reward classifier {model}, which does not '
                f'exist: train one first (make train writes runs/pick_cube/'
                f'reward_classifier.pt; then reward_model:=that file), or use '
                f'reward:=ground_truth (sim)')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``serl_launch``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog='serl_launch', description='Start a serl-ros2 graph without launch_ros.')
    parser.add_argument('graph', choices=sorted(GRAPHS), help='graph to start')
    parser.add_argument('arguments', nargs='*', help='launch arguments, name:=value')
    parser.add_argument('--show-args', action='store_true', help='list the graph arguments')
    parser.add_argument('--dry-run', action='store_true', help='print command lines only')
    parser.add_argument('--config-dir', default=None, help='config directory')
    parser.add_argument('--grace-period', type=float, default=10.0,
                        help='seconds per stop signal before the next (default 10)')
    opts = parser.parse_args(argv)
    graph = get_graph(opts.graph)
    if opts.show_args:
        for arg in graph.arguments:
            choices = ' (' + '|'.join(arg.choices) + ')' if arg.choices else ''
            print(f'{arg.name}:={arg.default!r}{choices}\n    {arg.description}')
        return 0
    try:
        config_dir = opts.config_dir or default_config_dir()
        specs = graph.nodes(parse_launch_arguments(opts.arguments), config_dir)
        if opts.dry_run:
            for spec in specs:
                print(shlex.join(command_line(spec)))
            return 0
        check_inputs(specs)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f'serl_launch: error: {exc}', file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    processes = GraphProcesses(specs, grace_period=opts.grace_period)
    # SIGTERM (e.g. from a supervisor) stops the graph like Ctrl-C does. SIGINT too, even when
    # this process was started with SIGINT ignored (a background job of a non-interactive
    # shell inherits SIG_IGN, and Python then installs no handler of its own).
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    status = 0
    try:
        processes.start(env)
        while processes.running():
            died = processes.poll()
            if died is not None:
                processes.log(f'required node {died} died: stopping the graph')
                status = 1
                break
            time.sleep(0.1)
        processes.poll()
    except KeyboardInterrupt:
        processes.log('stopping the graph')
    except FileNotFoundError as exc:
        print(f'serl_launch: error: {exc}', file=sys.stderr)
        status = 2
    finally:
        processes.stop()
        processes.poll()
    return status


if __name__ == '__main__':
    sys.exit(main())
