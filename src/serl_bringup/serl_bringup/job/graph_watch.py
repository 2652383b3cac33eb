"""
A training graph with the main job's monitor beside it: start, watch, stop.

``serl_train``'s step 3 (:func:`serl_bringup.job.train_rl.train`, and
:func:`serl_bringup.job.forward_backward.train_forward_backward` for two directions) starts
``serl_launch`` in its own session and a :class:`~serl_bringup.monitor_node.MonitorNode` in
this process, spinning in a thread, and must take both down however the watch ends (target,
budget, a stopped graph, Ctrl-C). :class:`WatchedGraph` does that as a context manager.
"""

from pathlib import Path
import sys
import threading
import time
from typing import List, Optional


class WatchedGraph:
    """
    ``with WatchedGraph(argv, log_path, progress) as watch:`` runs the graph and the monitor.

    :param argv: ``serl_launch`` arguments.
    :param log_path: file that receives the graph's output.
    :param progress: a :class:`~serl_bringup.progress.Progress` or ``{direction: Progress}``
        (what :class:`MonitorNode` takes).

    Inside: :attr:`monitor` (read the progress under ``monitor.lock``), :attr:`graph`
    (:class:`serl_bringup.job.launched_graph.Graph`). On exit the graph is stopped first
    (SIGINT, then SIGKILL of its session), then the monitor and rclpy; exceptions
    (KeyboardInterrupt included) propagate.
    """

    def __init__(self, argv: List[str], log_path: Path, progress):
        self.argv, self.log_path, self.progress = argv, log_path, progress
        self.monitor = self.graph = self._executor = self._spinner = None
        self.start = time.monotonic()
        self.tty = sys.stdout.isatty()
        self._last: dict = {}

    def __enter__(self) -> 'WatchedGraph':
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions
        from serl_bringup.job.launched_graph import Graph
        from serl_bringup.monitor_node import MonitorNode

        # Ctrl-C must reach the watch loop as KeyboardInterrupt (stop the graph, then exit),
        # not shut the monitor's context down under it: no rclpy signal handlers
        rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
        self.monitor = MonitorNode(self.progress)
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.monitor)
        self._spinner = threading.Thread(target=self._executor.spin, daemon=True)
        self._spinner.start()
        self.graph = Graph(self.argv, self.log_path)
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc) -> bool:
        import rclpy
        if self.graph is not None:
            self.graph.stop()
        self._executor.shutdown()
        self.monitor.destroy_node()
        rclpy.try_shutdown()
        self._spinner.join(5.0)
        return False

    def due(self, what: str, period: float) -> bool:
        """Return True once per ``period`` seconds for each ``what`` (the first call: True)."""
        now = time.monotonic()
        if now - self._last.get(what, -1e18) < period:
            return False
        self._last[what] = now
        return True

    def show(self, line: str) -> None:
        """Show the status line: rewritten in place on a terminal, else printed every 10 s."""
        if self.tty:
            print('\r' + line[:200].ljust(120), end='', flush=True)
        elif self.due('status line', 10.0):
            print(f'[serl_train] {line}', flush=True)

    def end_line(self) -> None:
        """End the status line on a terminal (before a line of its own is printed)."""
        if self.tty:
            print(flush=True)

    def stop_reason(self, env_steps: int, max_env_steps: int, timeout: float) -> Optional[str]:
        """
        Return why the watch should end besides the target, or None to go on.

        'step budget spent' (``env_steps >= max_env_steps``), the graph stopped (its exit
        status and log named), or a ``timeout`` (s, 0: none) since the graph started.
        """
        if env_steps >= max_env_steps:
            return 'step budget spent'
        if not self.graph.running():
            return f'the graph stopped (exit {self.graph.proc.returncode}); see {self.log_path}'
        if timeout and time.monotonic() - self.start > timeout:
            return f'timeout after {timeout:.0f} s'
        return None
