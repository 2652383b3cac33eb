"""
rosbag2 bags of ``serl_msgs/Transition`` read and written with ``rosbags`` (no rclpy).

A demo bag is what ``ros2 bag record /serl/transitions`` makes: a directory with a standard
``metadata.yaml`` and one or more MCAP (or sqlite3) files holding CDR-serialised
``serl_msgs/msg/Transition`` messages on ``/serl/transitions``. The type hash (RIHS01) written
into the bag is computed by rosbags from the same ``.msg`` files that ``rosidl`` generated the
ROS 2 types from, so it equals the hash the real ``ros2 bag`` writes.

Crash safety of what this module writes (see :class:`EpisodeBagWriter`): every episode is its own
bag, written under a hidden temporary name and renamed into place only after it is closed
(metadata written, files fsync'ed). A crash loses at most the episode being recorded; every bag
found under a recording directory is complete.

Errors: a missing path, a directory without a bag, a corrupted or truncated file, or a message
type whose definition differs from the installed ``serl_msgs`` raise :class:`BagError` with the
offending path in the text.
"""

from dataclasses import dataclass
import os
from pathlib import Path
import re
import shutil
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from serl_agent.data.acknowledgement import AckTracker
from serl_agent.data.durable_io import fsync_path
# the project's one typestore (Jazzy + serl_msgs), shared with serl_reward's bag reader
from serl_reward.typestore import make_typestore, serl_msgs_dir as serl_msg_dir  # noqa: F401
from serl_reward.typestore import TRANSITION_TYPE
import yaml

TRANSITION_TOPIC = '/serl/transitions'
#: rosbag2 metadata version written (9 is what ros2 bag writes in Jazzy).
BAG_VERSION = 9
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}

PathLike = Union[str, os.PathLike]


class BagError(RuntimeError):
    """A bag cannot be read or written; the message names the path."""


# --------------------------------------------------------------------------------------------
# Writing.


class TransitionBagWriter:
    """
    Write ``serl_msgs/Transition`` messages into one new rosbag2 bag.

    Usage::

        with TransitionBagWriter('demos/run1', storage='mcap') as w:
            w.write(msg, timestamp_ns)         # a rosbags Transition dataclass
            w.write_cdr(cdr_bytes, timestamp_ns)  # bytes from an rclpy raw subscription

    The bag is complete (``metadata.yaml`` written) only after :meth:`close`.

    :param path: bag directory to create; must not exist.
    :param storage: ``'mcap'`` (default, as ``ros2 bag record`` in Jazzy) or ``'sqlite3'``.
    :param typestore: from :func:`make_typestore` (default).
    :param topic: topic name recorded.

    :raises BagError: unknown storage, or the path exists or cannot be created.
    """

    def __init__(self, path: PathLike, storage: str = 'mcap', typestore=None,
                 topic: str = TRANSITION_TOPIC):
        if storage not in STORAGES:
            raise BagError(f'{path}: unknown storage {storage!r} (use one of {list(STORAGES)})')
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f'{self.path}: bag path already exists')
        self.typestore = typestore if typestore is not None else make_typestore()
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
        try:
            self._writer.open()
            self._conn = self._writer.add_connection(
                topic, TRANSITION_TYPE, typestore=self.typestore)
        except Exception as exc:  # noqa: B902 - rosbags raises several types
            raise BagError(f'{self.path}: cannot create bag: {exc}') from exc
        self.count = 0
        self._open = True

    def write(self, msg, timestamp_ns: int) -> None:
        """Serialise a rosbags ``Transition`` and append it with receive time ``timestamp_ns``."""
        self.write_cdr(self.typestore.serialize_cdr(msg, TRANSITION_TYPE), timestamp_ns)

    def write_cdr(self, data: bytes, timestamp_ns: int) -> None:
        """Append already CDR-serialised Transition bytes (e.g. an rclpy raw subscription)."""
        if not self._open:
            raise BagError(f'{self.path}: write after close')
        self._writer.write(self._conn, int(timestamp_ns), bytes(data))
        self.count += 1

    def close(self) -> None:
        """Finish the bag: write the storage index and ``metadata.yaml``, fsync the files."""
        if not self._open:
            return
        self._open = False
        self._writer.close()
        _fsync_tree(self.path)

    def __enter__(self):
        """Context manager entry: the open writer."""
        return self

    def __exit__(self, *exc):
        """Close the bag (also on an exception: what was written is kept)."""
        self.close()


def write_transitions(path: PathLike, messages: Iterable[Tuple[int, object]],
                      storage: str = 'mcap', typestore=None) -> int:
    """Write ``(timestamp_ns, Transition)`` pairs into a new bag; return the message count."""
    with TransitionBagWriter(path, storage=storage, typestore=typestore) as writer:
        for stamp, msg in messages:
            writer.write(msg, stamp)
        return writer.count


def _fsync_tree(path: Path) -> None:
    for item in [*path.iterdir(), path]:
        fsync_path(item)


_UNSAFE = re.compile(r'[^A-Za-z0-9_.-]+')


def _name_storage_files(bag: Path, name: str) -> None:
    """
    Name a closed bag's storage files ``<name>_<i>.<ext>``, as ``ros2 bag record`` names them.

    The bag is written under a hidden temporary directory, whose name its files took; they are
    renamed and ``metadata.yaml`` (``relative_file_paths``, ``files[].path``) rewritten
    atomically, before the directory is renamed to ``name``.
    """
    meta_path = bag / 'metadata.yaml'
    meta = yaml.safe_load(meta_path.read_text(encoding='utf-8'))
    info = meta['rosbag2_bagfile_information']
    renames = {old: f'{name}_{i}{Path(old).suffix}'
               for i, old in enumerate(info.get('relative_file_paths', []))}
    for old, new in renames.items():
        os.replace(bag / old, bag / new)
    info['relative_file_paths'] = [renames[f] for f in info.get('relative_file_paths', [])]
    for entry in info.get('files') or []:
        entry['path'] = renames.get(entry['path'], entry['path'])
    tmp = bag / '.metadata.yaml.tmp'
    tmp.write_text(yaml.safe_dump(meta, sort_keys=False), encoding='utf-8')
    os.replace(tmp, meta_path)
    _fsync_tree(bag)


class EpisodeBagWriter:
    """
    Record transitions as one complete rosbag2 bag per episode under a directory.

    Transitions are grouped by ``(actor_id, episode)``. Each group is streamed into
    ``<directory>/.<name>.partial`` and, when its last transition arrives (``terminated`` or
    ``truncated``; episodes holding success: see below), the bag is closed (fsync'ed), its
    storage file named ``<name>_0.mcap`` as ``ros2 bag record`` names it, and the directory
    renamed atomically to ``<directory>/<name>``, ``<name>`` = ``<actor_id>_ep<episode:06d>``.
    Guarantee: after a crash
    every bag under the directory is complete; at most the episodes still being recorded are
    lost (their hidden ``.partial`` directories are ignored by the readers). :meth:`close`
    (clean shutdown, e.g. Ctrl-C) also finalises unfinished episodes, named with an
    ``_incomplete`` suffix.

    An episode the actor aborted (no terminal transition; the actor's next transitions carry a
    later episode number) is closed as ``<name>_incomplete`` as soon as a transition of a later
    episode of that actor arrives. A transition seen before (same ``actor_id`` and
    ``sequence``: an actor re-sending it) is dropped; so is one of an episode already closed
    (a late re-send of a transition lost the first time; counted in :attr:`late`), so an
    episode never gets a second bag.

    Episodes that hold their success (an actor with ``success_hold_steps`` N > 0, see
    :class:`serl_agent.runtime.episode_runner.EpisodeRunner`) carry N + 1 terminated
    transitions; give the same N here: a bag then closes on a ``truncated`` transition (the
    actor marks the last held step so) or on the (N + 1)-th terminated one, not on the first.

    :param directory: recording directory, created if needed.
    :param storage: ``'mcap'`` or ``'sqlite3'``.
    :param typestore: from :func:`make_typestore` (default).
    :param success_hold_steps: terminated transitions an episode may carry after its first
        one (0: the first terminated transition ends it).
    :raises ValueError: ``success_hold_steps`` < 0.
    """

    def __init__(self, directory: PathLike, storage: str = 'mcap', typestore=None,
                 success_hold_steps: int = 0):
        if int(success_hold_steps) < 0:
            raise ValueError(f'success_hold_steps must be >= 0, got {success_hold_steps}')
        self.success_hold_steps = int(success_hold_steps)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.storage = storage
        self.typestore = typestore if typestore is not None else make_typestore()
        self._open = {}  # (actor_id, episode) -> TransitionBagWriter
        self._open_sequences = {}  # (actor_id, episode) -> sequences written into it
        self._open_terminals = {}  # (actor_id, episode) -> terminated transitions written
        self._received = {}  # actor_id -> AckTracker of every sequence received
        self._durable = {}  # actor_id -> AckTracker of the sequences in closed bags
        self._closed = {}  # actor_id -> episodes closed
        self._latest = {}  # actor_id -> highest episode started
        self.completed: List[Path] = []
        self.duplicates = 0
        self.late = 0

    def _name(self, actor_id: str, episode: int) -> str:
        return f'{_UNSAFE.sub("_", actor_id) or "actor"}_ep{int(episode):06d}'

    def write_cdr(self, data: bytes, timestamp_ns: int, msg=None) -> Optional[Path]:
        """
        Append one serialised Transition; return the bag path when it ended an episode.

        Bags of aborted episodes closed by this transition (see the class docstring) are
        appended to :attr:`completed` but not returned.

        :param data: CDR bytes of a ``serl_msgs/msg/Transition``.
        :param timestamp_ns: receive time recorded in the bag.
        :param msg: the deserialised message if the caller has it (saves a deserialisation).
        """
        if msg is None:
            msg = self.typestore.deserialize_cdr(bytes(data), TRANSITION_TYPE)
        actor, sequence, episode = str(msg.actor_id), int(msg.sequence), int(msg.episode)
        received = self._received.setdefault(actor, AckTracker(float('inf')))
        if not received.receive(actor, sequence):
            self.duplicates += 1
            return None
        received.persisted(0.0)  # compacts the duplicate filter into its watermark
        key = (actor, episode)
        if key not in self._open and (episode in self._closed.get(actor, ())
                                      or episode < self._latest.get(actor, episode)):
            self.late += 1  # its episode's bag is closed: dropped, but acknowledged
            self._mark_durable(actor, [sequence])
            return None
        for open_key in [k for k in self._open if k[0] == actor and k[1] < episode]:
            self._finish(open_key, '_incomplete')  # the actor aborted that episode
        self._latest[actor] = max(episode, self._latest.get(actor, episode))
        writer = self._open.get(key)
        if writer is None:
            partial = self.directory / f'.{self._name(*key)}.partial'
            if partial.exists():
                shutil.rmtree(partial)
            writer = TransitionBagWriter(partial, self.storage, self.typestore)
            self._open[key] = writer
            self._open_sequences[key] = []
            self._open_terminals[key] = 0
        writer.write_cdr(data, timestamp_ns)
        self._open_sequences[key].append(sequence)
        self._open_terminals[key] += bool(msg.terminated)
        if msg.truncated or self._open_terminals[key] > self.success_hold_steps:
            return self._finish(key, '')
        return None

    def open_episodes(self, actor_id: str) -> List[int]:
        """Return the episodes of ``actor_id`` still being recorded."""
        return [ep for (actor, ep) in self._open if actor == actor_id]

    def durable_sequence(self, actor_id: str) -> int:
        """
        Return the highest contiguous sequence of ``actor_id`` that is in closed bags on disk.

        Late transitions of closed episodes (dropped, see the class docstring) count as done.
        """
        tracker = self._durable.get(actor_id)
        return 0 if tracker is None else tracker.watermark.get(actor_id, 0)

    def _mark_durable(self, actor_id: str, sequences) -> None:
        tracker = self._durable.setdefault(actor_id, AckTracker(float('inf')))
        for sequence in sequences:
            tracker.receive(actor_id, sequence)
        tracker.persisted(0.0)

    def write(self, msg, timestamp_ns: int) -> Optional[Path]:
        """Append a rosbags ``Transition`` dataclass; see :meth:`write_cdr`."""
        return self.write_cdr(self.typestore.serialize_cdr(msg, TRANSITION_TYPE),
                              timestamp_ns, msg)

    def _finish(self, key, suffix: str) -> Path:
        writer = self._open.pop(key)
        self._open_terminals.pop(key, None)
        writer.close()
        self._closed.setdefault(key[0], set()).add(key[1])
        final = self.directory / (self._name(*key) + suffix)
        n = 1
        while final.exists():  # an actor restarted with the same id: never overwrite
            final = self.directory / f'{self._name(*key)}{suffix}_{n}'
            n += 1
        _name_storage_files(writer.path, final.name)
        os.replace(writer.path, final)
        _fsync_tree(self.directory)
        self._mark_durable(key[0], self._open_sequences.pop(key))
        self.completed.append(final)
        return final

    def close(self) -> List[Path]:
        """Finalise unfinished episodes (suffix ``_incomplete``); return all bags written."""
        for key in list(self._open):
            self._finish(key, '_incomplete')
        return list(self.completed)

    def __enter__(self):
        """Context manager entry."""
        return self

    def __exit__(self, *exc):
        """Close: unfinished episodes are kept, marked incomplete."""
        self.close()


# --------------------------------------------------------------------------------------------
# Reading.


@dataclass(frozen=True)
class BagMessage:
    """One recorded message: source bag, receive time (ns) and the deserialised Transition."""

    bag: Path
    timestamp_ns: int
    msg: object


def find_bags(paths: Union[PathLike, Sequence[PathLike]]) -> List[Path]:
    """
    Expand paths into bag directories (those holding a ``metadata.yaml``), sorted.

    A path may be a bag directory or a directory of bags (e.g. an :class:`EpisodeBagWriter`
    recording); hidden (``.``-prefixed) directories are skipped.

    :raises BagError: a path does not exist or holds no bag.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    bags: List[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise BagError(f'{path}: no such bag or directory')
        if (path / 'metadata.yaml').is_file():
            bags.append(path)
            continue
        if not path.is_dir():
            raise BagError(f'{path}: not a rosbag2 bag (expected a directory with '
                           f'metadata.yaml)')
        found = sorted(d.parent for d in path.rglob('metadata.yaml')
                       if not any(part.startswith('.')
                                  for part in d.parent.relative_to(path).parts))
        if not found:
            raise BagError(f'{path}: no rosbag2 bag (metadata.yaml) in this directory')
        bags.extend(found)
    return bags


def read_transitions(paths: Union[PathLike, Sequence[PathLike]], typestore=None,
                     topic: str = TRANSITION_TOPIC) -> Iterator[BagMessage]:
    """
    Yield every Transition of the bags under ``paths``, bag by bag, in receive order.

    :param paths: bag directories or directories of bags (see :func:`find_bags`).
    :param typestore: from :func:`make_typestore` (default).
    :param topic: topic to read.

    :raises BagError: a missing/corrupt bag, a bag without ``topic``, or a Transition type whose
        hash differs from the installed ``serl_msgs`` (the message definition changed);
        the text names the bag and, where known, the file.
    """
    store = typestore if typestore is not None else make_typestore()
    expected_hash = store.hash_rihs01(TRANSITION_TYPE)
    for bag in find_bags(paths):
        try:
            with Reader(bag) as reader:
                conns = [c for c in reader.connections if c.topic == topic]
                if not conns:
                    topics = sorted({c.topic for c in reader.connections})
                    raise BagError(f'{bag}: no topic {topic} in this bag (topics: {topics})')
                for conn in conns:
                    if conn.msgtype != TRANSITION_TYPE:
                        raise BagError(f'{bag}: topic {topic} has type {conn.msgtype}, '
                                       f'expected {TRANSITION_TYPE}')
                    if conn.digest and conn.digest.startswith('RIHS01_') and \
                            conn.digest != expected_hash:
                        raise BagError(f'{bag}: {TRANSITION_TYPE} in this bag has type hash '
                                       f'{conn.digest}, the installed serl_msgs has '
                                       f'{expected_hash}: recorded with another message '
                                       'definition')
                for conn, stamp, data in reader.messages(connections=conns):
                    try:
                        msg = store.deserialize_cdr(data, conn.msgtype)
                    except Exception as exc:  # noqa: B902 - any decode failure is corruption
                        raise BagError(f'{bag}: message at t={stamp} ns cannot be '
                                       f'deserialised (corrupt data): {exc}') from exc
                    yield BagMessage(bag, stamp, msg)
        except BagError:
            raise
        except Exception as exc:  # noqa: B902 - rosbags/mcap/sqlite raise many types
            files = ', '.join(sorted(str(f) for f in bag.iterdir()
                                     if f.suffix in ('.mcap', '.db3', '.yaml')))
            raise BagError(f'{bag}: cannot read bag ({type(exc).__name__}: {exc}); '
                           f'files: {files}') from exc
