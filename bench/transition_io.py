"""
Transition I/O throughput: codec, rosbag2 write/read (MCAP vs sqlite3), over a 10 Hz need.

Two observation kinds, as the contract defines them: ``state`` (pick-cube: tcp_pose 7,
tcp_vel 6, gripper_width 1, object_pos 3) and ``vision`` (the state keys without object_pos,
plus front and wrist 128x128x3 rgb8 images; both observations of a transition carry them).
Measured in one run, per kind:

- encode: transition dict -> rosbags serl_msgs/Transition + CDR serialisation, per second;
- decode: CDR -> dict of numpy arrays (what the learner and the demo buffer do), per second;
- write / read: serl_agent.data.bag_io into a new bag and back, transitions per second, for MCAP
  and sqlite3 storage (read includes deserialisation and the dict conversion).

Ratios: ``mcap_vs_sqlite3`` = MCAP write rate / sqlite3 write rate (vision);
``vision_read_vs_10hz`` = vision read rate / 10 transitions per second (how many times faster
than the robot produces data the demo buffer loads it).

Last line: ``state_decode_per_s=... vision_decode_per_s=... vision_write_mcap_per_s=...
vision_read_mcap_per_s=... mcap_vs_sqlite3=... vision_read_vs_10hz=...``.

Run: ``python bench/transition_io.py [--count 300]``.
"""

import argparse
from pathlib import Path
import tempfile
import time

import numpy as np
from serl_agent.data.bag_io import (make_typestore, read_transitions, TRANSITION_TYPE,
                                    TransitionBagWriter)
from serl_agent.data.transition_codec import dict_to_transition, rosbags_types, transition_to_dict


def observation(rng, vision):
    obs = {'tcp_pose': rng.normal(size=7).astype(np.float32),
           'tcp_vel': rng.normal(size=6).astype(np.float32),
           'gripper_width': rng.uniform(0, 0.08, 1).astype(np.float32)}
    if vision:
        obs['front'] = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
        obs['wrist'] = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    else:
        obs['object_pos'] = rng.normal(size=3).astype(np.float32)
    return obs


def transitions(count, vision):
    rng = np.random.default_rng(0)
    return [{'observation': observation(rng, vision), 'next_observation': observation(rng, vision),
             'action': rng.uniform(-1, 1, 4).astype(np.float32), 'reward': 0.0,
             'terminated': False, 'truncated': i == count - 1, 'actor_id': 'bench',
             'sequence': i + 1, 'episode': 0, 'step': i, 'stamp_ns': 10**9 + i * 10**8}
            for i in range(count)]


def rate(count, seconds):
    return count / max(seconds, 1e-9)


def measure(kind, count, store, types, tmp):
    trs = transitions(count, kind == 'vision')
    t = time.perf_counter()
    blobs = [store.serialize_cdr(dict_to_transition(tr, types), TRANSITION_TYPE) for tr in trs]
    encode = rate(count, time.perf_counter() - t)
    t = time.perf_counter()
    for b in blobs:
        transition_to_dict(store.deserialize_cdr(b, TRANSITION_TYPE))
    decode = rate(count, time.perf_counter() - t)
    out = {'encode': encode, 'decode': decode, 'bytes': sum(len(b) for b in blobs) / count}
    for storage in ('mcap', 'sqlite3'):
        path = Path(tmp) / f'{kind}_{storage}'
        t = time.perf_counter()
        with TransitionBagWriter(path, storage=storage, typestore=store) as w:
            for tr, b in zip(trs, blobs):
                w.write_cdr(b, tr['stamp_ns'])
        out[f'write_{storage}'] = rate(count, time.perf_counter() - t)
        t = time.perf_counter()
        n = sum(1 for m in read_transitions(path, typestore=store)
                if transition_to_dict(m.msg) is not None)
        assert n == count
        out[f'read_{storage}'] = rate(count, time.perf_counter() - t)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=300)
    args = parser.parse_args()
    store = make_typestore()
    types = rosbags_types(store)
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ('state', 'vision'):
            res[kind] = r = measure(kind, args.count, store, types, tmp)
            print(f'{kind}: {r["bytes"] / 1024:.1f} KiB/transition, encode {r["encode"]:.0f}/s, '
                  f'decode {r["decode"]:.0f}/s, write mcap {r["write_mcap"]:.0f}/s, '
                  f'sqlite3 {r["write_sqlite3"]:.0f}/s, read mcap {r["read_mcap"]:.0f}/s, '
                  f'sqlite3 {r["read_sqlite3"]:.0f}/s')
    v = res['vision']
    print(f'state_decode_per_s={res["state"]["decode"]:.0f} '
          f'vision_decode_per_s={v["decode"]:.0f} vision_write_mcap_per_s={v["write_mcap"]:.0f} '
          f'vision_read_mcap_per_s={v["read_mcap"]:.0f} '
          f'mcap_vs_sqlite3={v["write_mcap"] / v["write_sqlite3"]:.2f} '
          f'vision_read_vs_10hz={v["read_mcap"] / 10.0:.0f}')


if __name__ == '__main__':
    main()
