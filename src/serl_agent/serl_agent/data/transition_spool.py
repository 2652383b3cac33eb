"""
Append-only spool file of serialised transitions: what the learner writes before it acks.

Each record is ``<u32 length><u32 crc32><length bytes>`` (little endian), the bytes being the
CDR serialisation of one ``serl_msgs/Transition``, zlib-compressed (level 1) when that makes a
large record at least a quarter smaller: the length field's top bit marks those, and the CRC is
of the stored bytes. Camera transitions shrink about 7x (sim images: 197 kB -> 27 kB, 1.2 ms
per record); small state transitions are stored as they are (files written before compression
existed read the same). :meth:`TransitionSpool.sync` flushes and
fsyncs; only transitions written before a completed ``sync`` may be acknowledged. A crash in
the middle of a write leaves a torn last record, which :func:`read_spool` drops (it was never
acknowledged, so the actor still holds it and re-sends it). A bad record anywhere else is
corruption and raises :class:`SpoolError` naming the file and byte offset.
"""

import os
from pathlib import Path
import struct
from typing import Iterator, Tuple, Union
import zlib

_HEADER = struct.Struct('<II')
#: Largest record accepted when reading (a corrupt length field must not allocate GBs).
MAX_RECORD = 256 * 1024 * 1024
#: Top bit of the length field: the record's bytes are zlib-compressed.
COMPRESSED = 1 << 31
#: Records at least this large are offered to zlib (smaller ones gain too little).
COMPRESS_FROM = 4096


class SpoolError(RuntimeError):
    """The spool file is corrupt (not just a torn last record); the text names file and offset."""


class TransitionSpool:
    """
    Append records to a spool file (created if missing, appended to if it exists).

    A torn tail left by a crash is cut off on open, so new records follow the last good one.

    :param path: spool file.
    :raises SpoolError: the existing file is corrupt before its end.
    """

    def __init__(self, path: Union[str, os.PathLike]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        good = 0
        if self.path.exists():
            for _, end, _ in _scan(self.path):
                good = end
            if good != self.path.stat().st_size:
                with open(self.path, 'r+b') as f:
                    f.truncate(good)
        self._file = open(self.path, 'ab')
        self.size = good
        self._dirty = False

    def append(self, data: bytes) -> int:
        """Append one record (not yet durable: call :meth:`sync`); return its end offset."""
        data, flag = bytes(data), 0
        if len(data) >= COMPRESS_FROM:
            packed = zlib.compress(data, 1)
            if len(packed) <= 0.75 * len(data):
                data, flag = packed, COMPRESSED
        self._file.write(_HEADER.pack(len(data) | flag, zlib.crc32(data)) + data)
        self.size += _HEADER.size + len(data)
        self._dirty = True
        return self.size

    def sync(self) -> bool:
        """Flush and fsync; return True when there was something to sync."""
        if not self._dirty:
            return False
        self._file.flush()
        os.fsync(self._file.fileno())
        self._dirty = False
        return True

    def close(self) -> None:
        """Sync and close."""
        if not self._file.closed:
            self.sync()
            self._file.close()


def _scan(path: Path) -> Iterator[Tuple[int, int, bytes]]:
    size = path.stat().st_size
    with open(path, 'rb') as f:
        offset = 0
        while offset < size:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return  # torn header at the end
            length, crc = _HEADER.unpack(header)
            compressed, length = bool(length & COMPRESSED), length & ~COMPRESSED
            end = offset + _HEADER.size + length
            if length > MAX_RECORD or end > size:
                if length <= MAX_RECORD and end > size:
                    return  # torn record at the end
                raise SpoolError(f'{path}: corrupt record length {length} at byte {offset}')
            data = f.read(length)
            if zlib.crc32(data) != crc:
                if end == size:
                    return  # torn last record
                raise SpoolError(f'{path}: CRC mismatch in the record at byte {offset} '
                                 f'(file damaged)')
            if compressed:
                try:
                    data = zlib.decompress(data)
                except zlib.error as e:
                    raise SpoolError(f'{path}: the compressed record at byte {offset} does '
                                     f'not decompress ({e})') from None
            yield offset, end, data
            offset = end


def read_spool(path: Union[str, os.PathLike]) -> Iterator[bytes]:
    """
    Yield the records of a spool file in write order; a torn last record is skipped.

    :raises SpoolError: corruption before the end of the file.
    """
    path = Path(path)
    if not path.exists():
        return
    for _, _, data in _scan(path):
        yield data
