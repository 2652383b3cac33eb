"""A ``serl_launch`` graph run by ``serl_train`` and ``serl_eval`` as a child process."""

import os
from pathlib import Path
import signal
import subprocess
from typing import List


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
