"""
Checkpoints of a training run: agent, replay buffers and counters in one run directory.

Layout of ``run_dir``::

    run_dir/checkpoints/ckpt_<critic_updates:012d>.pt   torch.save of one dict (see save())
    run_dir/checkpoints/latest.json                     {'file', 'sha256', 'bytes', ...}

Writes are atomic: each file goes to a temporary name in the same directory, is flushed and
fsync'ed, then renamed over its final name (``os.replace``, atomic on POSIX). ``latest.json``
is replaced only after its checkpoint file is complete, and older checkpoints are deleted only
after that, so a crash at any moment leaves the last good checkpoint readable. A checkpoint whose
SHA-256 or contents do not match raises ``CheckpointError`` naming the file; it is never
overwritten (new checkpoints get new names) nor deleted by pruning while it is the latest.
"""

import hashlib
import json
import os
from pathlib import Path
import tempfile
import time
from typing import BinaryIO, Callable, Dict, Optional, Union

from serl_agent.data.durable_io import fsync_path
from serl_agent.data.replay import ReplayBuffer
import torch

# The format id predates the data/ folder; it names the file format, not the module.
FORMAT = 'serl_agent.checkpoint/1'
LATEST = 'latest.json'
PathLike = Union[str, os.PathLike]


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt or does not fit the agent/buffers given."""


def checkpoint_dir(run_dir: PathLike) -> Path:
    """``run_dir/checkpoints``."""
    return Path(run_dir) / 'checkpoints'


def open_run(run_dir: PathLike) -> Path:
    """
    Create ``run_dir`` (and its ``checkpoints/``) if missing; an existing one is reused.

    Stale temporary files of an interrupted save are removed. Returns the run dir path.
    """
    run = Path(run_dir)
    ckpt = checkpoint_dir(run)
    ckpt.mkdir(parents=True, exist_ok=True)
    for tmp in ckpt.glob('.tmp-*'):
        tmp.unlink(missing_ok=True)
    return run


def atomic_write(path: PathLike, write: Callable[[BinaryIO], None]) -> None:
    """
    Create or replace ``path`` atomically with what ``write(file)`` writes.

    The data goes to a temporary file in the same directory, is flushed and fsync'ed, then
    renamed over ``path`` (``os.replace``); on any error the temporary file is removed and
    ``path`` is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see ``atomic_write``)."""
    atomic_write(path, lambda f: f.write(data))


def file_sha256(path: PathLike) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(4 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def save(run_dir: PathLike, agent, buffers: Optional[Dict[str, ReplayBuffer]] = None,
         counters: Optional[dict] = None, extra: Optional[dict] = None, keep: int = 2) -> Path:
    """
    Save a checkpoint of ``agent`` (``RLPDAgent``), named ``buffers`` and ``counters``.

    counters: ints/floats (e.g. env_steps, episodes); extra: any torch-saveable data of the
    caller (e.g. acknowledged transition sequence numbers). Keeps the newest ``keep`` (>= 1)
    checkpoints. Returns the checkpoint file path.
    """
    if keep < 1:
        raise ValueError(f'keep must be >= 1, got {keep}')
    ckpt = open_run(run_dir) / 'checkpoints'
    payload = {'format': FORMAT, 'time': time.time(), 'agent': agent.state_dict(),
               'buffers': {k: b.state_dict() for k, b in (buffers or {}).items()},
               'counters': dict(counters or {}), 'extra': extra if extra is not None else {}}
    name = f'ckpt_{agent.critic_updates:012d}.pt'
    latest = _read_latest(ckpt)
    if latest is not None and latest['file'] == name:
        # Same update count as the latest (e.g. saved twice without training): a new name
        # keeps the previous file intact until the manifest points elsewhere.
        name = f'ckpt_{agent.critic_updates:012d}_{time.time_ns()}.pt'
    path = ckpt / name
    # Streamed to the file (no in-memory copy of big buffers), then hashed from the file.
    atomic_write(path, lambda f: torch.save(payload, f))
    manifest = {'file': name, 'sha256': file_sha256(path), 'bytes': path.stat().st_size,
                'critic_updates': agent.critic_updates, 'actor_updates': agent.actor_updates,
                'counters': payload['counters'], 'time': payload['time']}
    atomic_write_bytes(ckpt / LATEST, (json.dumps(manifest, indent=1) + '\n').encode())
    old = sorted(p for p in ckpt.glob('ckpt_*.pt') if p.name != name)
    for p in old[:max(0, len(old) - (keep - 1))]:
        p.unlink(missing_ok=True)
    return path


def _read_latest(ckpt: Path) -> Optional[dict]:
    path = ckpt / LATEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding='utf-8'))
        manifest['file'], manifest['sha256']  # noqa: B018 - presence check
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f'corrupt checkpoint manifest {path}: {e}') from e
    return manifest


def latest_checkpoint(run_dir: PathLike) -> Optional[Path]:
    """Path of the newest complete checkpoint of ``run_dir``, or None when there is none."""
    manifest = _read_latest(checkpoint_dir(run_dir))
    return None if manifest is None else checkpoint_dir(run_dir) / manifest['file']


def read(path: PathLike, expected_sha256: Optional[str] = None) -> dict:
    """
    Read and verify one checkpoint file.

    Raises ``CheckpointError`` naming the file when it is missing, truncated, fails the SHA-256
    check or is not a serl_agent checkpoint.
    """
    path = Path(path)
    try:
        digest = file_sha256(path) if expected_sha256 is not None else None
    except OSError as e:
        raise CheckpointError(f'cannot read checkpoint {path}: {e}') from e
    if digest is not None and digest != expected_sha256:
        raise CheckpointError(f'corrupt checkpoint {path}: SHA-256 does not match '
                              f'{LATEST}; the file was changed or damaged after it was written')
    try:
        payload = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # noqa: B902 - torch raises several types for bad files
        raise CheckpointError(f'corrupt checkpoint {path}: {type(e).__name__}: {e}') from e
    if not isinstance(payload, dict) or payload.get('format') != FORMAT:
        raise CheckpointError(f'{path} is not a {FORMAT} checkpoint')
    return payload


def load(run_dir: PathLike, agent, buffers: Optional[Dict[str, ReplayBuffer]] = None
         ) -> Optional[dict]:
    """
    Restore the latest checkpoint of ``run_dir`` into ``agent`` and ``buffers``.

    Returns ``{'counters': ..., 'extra': ..., 'path': Path}``, or None when the run has no
    checkpoint yet (a fresh run). Raises ``CheckpointError`` naming the file when it is corrupt
    or does not fit the agent/buffers (nothing is deleted or overwritten then).
    """
    ckpt = checkpoint_dir(run_dir)
    manifest = _read_latest(ckpt)
    if manifest is None:
        return None
    path = ckpt / manifest['file']
    payload = read(path, manifest['sha256'])
    try:
        agent.load_state_dict(payload['agent'])
        for name, buf in (buffers or {}).items():
            if name not in payload['buffers']:
                raise CheckpointError(f'checkpoint {path} has no buffer {name!r} '
                                      f'(has {sorted(payload["buffers"])})')
            buf.load_state_dict(payload['buffers'][name])
    except (ValueError, KeyError) as e:
        raise CheckpointError(f'checkpoint {path} does not fit: {e}') from e
    return {'counters': payload['counters'], 'extra': payload['extra'], 'path': path}
