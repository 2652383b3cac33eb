"""
The actor's unacknowledged transitions on disk, so that an actor crash loses nothing (no rclpy).

Layout of ``directory``: ``<actor_id>.spool`` (a
:class:`serl_agent.data.transition_spool.TransitionSpool` whose first record is
``<u64 0><actor_id utf-8>``, then one ``<u64 sequence><CDR bytes>`` record per transition)
and ``<actor_id>.acked`` (the highest acknowledged sequence, replaced atomically). The actor
appends each transition before sending it and fsyncs once per second; when everything it sent
is acknowledged, its spool is emptied. A new actor process finds the files of earlier
processes (:meth:`ActorSpool.leftovers`), re-sends their unacknowledged transitions under their
original ``actor_id`` and ``sequence`` (the learner drops duplicates) and deletes the files once
all are acknowledged. A crash loses at most the transitions of the last second that were
neither fsync'ed nor acknowledged.
"""

import os
from pathlib import Path
import re
import struct
import tempfile
from typing import Dict, List, Tuple, Union

from serl_agent.data.transition_spool import read_spool, TransitionSpool

_SEQ = struct.Struct('<Q')
_UNSAFE = re.compile(r'[^A-Za-z0-9_.-]+')


def _name(actor_id: str) -> str:
    return _UNSAFE.sub('_', actor_id) or 'actor'


class ActorSpool:
    """
    On-disk copy of one actor's unacknowledged transitions; see the module docstring.

    :param directory: spool directory (created if missing); shared by successive actors.
    :param actor_id: this process's actor id.
    :raises serl_agent.data.transition_spool.SpoolError: a corrupt spool file of this actor id.
    """

    def __init__(self, directory: Union[str, os.PathLike], actor_id: str):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.actor_id = actor_id
        self._acked: Dict[str, int] = {}
        self._spool = self._open(self.directory / f'{_name(actor_id)}.spool')

    def _open(self, path: Path) -> TransitionSpool:
        spool = TransitionSpool(path)
        if spool.size == 0:
            spool.append(_SEQ.pack(0) + self.actor_id.encode())
            spool.sync()
        return spool

    def append(self, sequence: int, data: bytes) -> None:
        """Keep transition ``sequence`` (CDR bytes) on disk (durable after :meth:`sync`)."""
        self._spool.append(_SEQ.pack(int(sequence)) + bytes(data))

    def sync(self) -> None:
        """Fsync what was appended."""
        self._spool.sync()

    def ack(self, actor_id: str, sequence: int) -> None:
        """Record that ``actor_id``'s transitions up to ``sequence`` are acknowledged."""
        if sequence <= self._acked.get(actor_id, 0):
            return
        self._acked[actor_id] = int(sequence)
        path = self.directory / f'{_name(actor_id)}.acked'
        fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=self.directory)
        with os.fdopen(fd, 'w') as f:
            f.write(f'{int(sequence)}\n')
        os.replace(tmp, path)

    def clear(self) -> None:
        """Empty this actor's spool (everything it sent is acknowledged)."""
        self._spool.close()
        path = self._spool.path
        path.unlink(missing_ok=True)
        self._spool = self._open(path)

    def leftovers(self) -> Dict[str, List[Tuple[int, bytes]]]:
        """
        Return the unacknowledged transitions of earlier actor processes found in the directory.

        :returns: ``{actor_id: [(sequence, cdr bytes), ...]}``, oldest first.
        :raises serl_agent.data.transition_spool.SpoolError: a corrupt spool file (named).
        """
        out = {}
        for path in sorted(self.directory.glob('*.spool')):
            if path == self._spool.path:
                continue
            records = list(read_spool(path))
            if not records:
                path.unlink(missing_ok=True)
                continue
            actor_id = records[0][_SEQ.size:].decode()
            acked_file = self.directory / f'{_name(actor_id)}.acked'
            acked = int(acked_file.read_text().strip() or 0) if acked_file.exists() else 0
            pending = [(s, rec[_SEQ.size:]) for rec in records[1:]
                       for (s,) in [_SEQ.unpack_from(rec)] if s > acked]
            if pending:
                out[actor_id] = pending
            else:
                self.forget(actor_id)
        return out

    def forget(self, actor_id: str) -> None:
        """Delete the files of an actor id once all its transitions are acknowledged."""
        for suffix in ('.spool', '.acked'):
            (self.directory / f'{_name(actor_id)}{suffix}').unlink(missing_ok=True)

    def close(self, delete: bool) -> None:
        """Close; ``delete`` removes this actor's files (use when everything was acked)."""
        self._spool.close()
        if delete:
            self.forget(self.actor_id)
