"""Spool file and acknowledgement bookkeeping (pure Python, no ROS)."""

import struct
import zlib

import numpy as np
import pytest
from serl_agent.data.acknowledgement import AckTracker, Outbox
from serl_agent.data.transition_spool import (COMPRESSED, read_spool, SpoolError,
                                              TransitionSpool)


def test_spool_torn_tail_is_dropped_and_appended_after(tmp_path):
    path = tmp_path / 's.spool'
    spool = TransitionSpool(path)
    for i in range(3):
        spool.append(bytes([i]) * (10 + i))
    spool.close()
    with open(path, 'ab') as f:  # a crash in the middle of a write
        f.write(b'\x20\x00\x00\x00\x01\x02')
    assert [len(r) for r in read_spool(path)] == [10, 11, 12]
    spool = TransitionSpool(path)  # cuts the torn tail, appends after the last good record
    spool.append(b'next')
    spool.close()
    assert list(read_spool(path))[-1] == b'next'


def test_spool_corruption_in_the_middle_is_named(tmp_path):
    path = tmp_path / 's.spool'
    spool = TransitionSpool(path)
    for _ in range(3):
        spool.append(b'x' * 100)
    spool.close()
    raw = bytearray(path.read_bytes())
    raw[50] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(SpoolError, match='s.spool.*byte 0'):
        list(read_spool(path))


def test_large_compressible_records_are_stored_compressed_and_read_back(tmp_path):
    path = tmp_path / 's.spool'
    image_like = bytes(np.repeat(np.arange(64, dtype=np.uint8), 3 * 1024))   # flat regions
    noise = np.random.default_rng(0).integers(0, 256, 8192, np.uint8).tobytes()
    old_format = struct.pack('<II', 5, zlib.crc32(b'state')) + b'state'
    path.write_bytes(old_format)   # a record as written before compression existed
    spool = TransitionSpool(path)
    for record in (image_like, noise, b'small'):
        spool.append(record)
    spool.close()
    assert list(read_spool(path)) == [b'state', image_like, noise, b'small']
    assert path.stat().st_size < len(image_like) // 4 + len(noise) + 100   # image compressed
    raw = path.read_bytes()
    first = struct.unpack_from('<I', raw, len(old_format))[0]
    assert first & COMPRESSED   # the compressible record carries the flag
    bad = bytearray(raw)
    offset = len(old_format) + 8
    bad[offset:offset + 4] = b'\x00\x00\x00\x00'   # damage the zlib stream...
    crc = zlib.crc32(bytes(bad[offset:offset + (first & ~COMPRESSED)]))
    struct.pack_into('<I', bad, len(old_format) + 4, crc)   # ...behind a valid CRC
    path.write_bytes(bytes(bad))
    with pytest.raises(SpoolError, match='does not decompress'):
        list(read_spool(path))


def test_outbox_bounded_resend_and_ack():
    box = Outbox(capacity=3)
    for seq in range(1, 6):
        box.add(seq, b'%d' % seq, now=0.0)
    assert len(box) == 3 and box.dropped == 2
    assert box.due(now=0.5, resend_after=1.0) == []
    assert [s for s, _ in box.due(now=2.0, resend_after=1.0)] == [3, 4, 5]
    assert box.due(now=2.5, resend_after=1.0) == []  # just re-sent
    assert box.ack(4) == 2 and len(box) == 1
    box.add(2, b'late', now=3.0)  # already acknowledged: not kept
    assert len(box) == 1


def test_tracker_duplicates_watermark_and_gap():
    tr = AckTracker(gap_timeout=10.0)
    assert tr.receive('a', 1) and tr.receive('a', 2) and not tr.receive('a', 2)
    assert tr.receive('a', 4)
    assert tr.persisted(now=0.0) == {'a': 2}  # 3 missing: stop at 2
    assert not tr.receive('a', 4) and not tr.receive('a', 1)
    assert tr.persisted(now=5.0) == {}
    assert tr.persisted(now=11.0) == {'a': 4} and tr.skipped == 1  # 3 given up
    assert tr.receive('b', 1) and tr.persisted(now=11.0) == {'b': 1}
    assert tr.watermark == {'a': 4, 'b': 1}


def test_actor_spool_leftovers(tmp_path):
    from serl_agent.data.actor_spool import ActorSpool
    old = ActorSpool(tmp_path, 'host/1')  # a crashed process: never closed
    for seq in (1, 2, 3):
        old.append(seq, b'cdr%d' % seq)
    old.sync()
    old.ack('host/1', 1)
    new = ActorSpool(tmp_path, 'host-2')
    assert new.leftovers() == {'host/1': [(2, b'cdr2'), (3, b'cdr3')]}
    new.ack('host/1', 3)
    assert new.leftovers() == {}  # all acknowledged: files removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ['host-2.spool']
    new.append(1, b'x')
    new.clear()
    new.close(delete=True)
    assert list(tmp_path.iterdir()) == []
