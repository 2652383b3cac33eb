"""Start and drive the JAX reference learner (``rlpd_update.py``) as a worker process."""

from pathlib import Path
import subprocess
import time
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().with_name('rlpd_update.py')
DEFAULT_PYTHON = ROOT / '.venv-bench-jax' / 'bin' / 'python'


class JaxWorker:
    """
    The JAX/Flax RLPD update in its own process and environment, timed on request.

    :param python: the bench-only environment's interpreter (``bench/jax_reference/setup.sh``).
    :param shapes: ``rlpd_update.py`` options (num_critics, subset, width, depth, batch, utd,
        obs_dim, act_dim, threads).
    :raises FileNotFoundError: no such interpreter (the hint names the setup script).
    :raises RuntimeError: the worker died before it was ready (its output is in the message).
    """

    def __init__(self, python: Path = DEFAULT_PYTHON, timeout: float = 600.0, **shapes):
        if not Path(python).exists():
            raise FileNotFoundError(f'{python}: no JAX environment; create it with '
                                    f'bash bench/jax_reference/setup.sh')
        cmd = [str(python), str(WORKER)]
        for k, v in shapes.items():
            cmd += [f'--{k.replace("_", "-")}', str(v)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self._line(timeout)
        if not line.startswith('ready'):
            self.close()
            raise RuntimeError(f'JAX worker failed: {line!r} {self.proc.stderr.read()[-2000:]}')
        fields = dict(w.split('=', 1) for w in line.split()[1:])
        self.compile_s = float(fields['compile_s'])
        self.version = fields['jax']

    def _line(self, timeout: float) -> str:
        t_end = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if not line and time.monotonic() < t_end and self.proc.poll() is not None:
            return f'exited with {self.proc.returncode}'
        return line.strip()

    def times(self, seconds: float) -> List[float]:
        """Seconds per update call (each G critic updates), timed for ``seconds``."""
        self.proc.stdin.write(f'time {seconds}\n')
        self.proc.stdin.flush()
        line = self._line(seconds + 120.0)
        if not line.startswith('times '):
            raise RuntimeError(f'JAX worker answered {line!r}')
        return [float(x) for x in line.split()[1].split(',')]

    def close(self) -> Optional[int]:
        """Ask the worker to quit; kill it if it does not within 10 s."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('quit\n')
                self.proc.stdin.flush()
                return self.proc.wait(10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
        return self.proc.wait()
