"""
Labelled camera frames from rosbag2 bags of ``serl_msgs/Transition`` (no rclpy).

A demo bag is a recording of ``/serl/transitions`` (docs/architecture.md). Every Transition
gives one labelled frame set: the images of its ``next_observation`` with label ``success``
(the flag says the task was achieved at this step, i.e. in the state reached). Frames of one
``(bag, actor_id, episode)`` share an episode id, so held-out splits keep episodes whole.

Bags are read with ``rosbags`` (MCAP or sqlite3) and the project's typestore
(:mod:`serl_reward.typestore`: Jazzy plus the installed ``serl_msgs`` definitions).
"""

from pathlib import Path

from rosbags.rosbag2 import Reader
from serl_reward.dataset import from_frames
from serl_reward.image_codec import image_to_rgb, ImageFormatError
from serl_reward.typestore import make_typestore, MessageDefinitionError

TRANSITION_TOPIC = '/serl/transitions'


class BagReadError(RuntimeError):
    """A bag that is missing, unreadable, or lacks the frames asked for; names the bag."""


def find_bags(paths):
    """
    Expand paths into rosbag2 bag directories (those holding ``metadata.yaml``), sorted.

    :param paths: bag directories, or directories containing bags.
    :returns: list of pathlib.Path.
    :raises BagReadError: a path does not exist or holds no bag.
    """
    bags = []
    for item in paths:
        path = Path(item)
        if (path / 'metadata.yaml').is_file():
            bags.append(path)
        elif path.is_dir():
            found = sorted(p.parent for p in path.rglob('metadata.yaml'))
            if not found:
                raise BagReadError(f'{path}: no rosbag2 bag (metadata.yaml) in this directory')
            bags.extend(found)
        else:
            raise BagReadError(f'{path}: no such bag or directory')
    return bags


def read_labelled_frames(paths, image_keys, size=None, topic=TRANSITION_TOPIC):
    """
    Read every Transition of the bags under ``paths`` as labelled frames.

    :param paths: bag directories or directories of bags.
    :param image_keys: camera names to take from ``next_observation.image_names``.
    :param size: optional (height, width) every image must have.
    :param topic: the Transition topic in the bags.
    :returns: :class:`serl_reward.dataset.FrameDataset` (RGB images, labels, episode ids).
    :raises BagReadError: a missing, corrupt or empty bag, a bag without ``topic``, or a
        Transition lacking a camera or holding an unusable image; the text names the bag.
    """
    try:
        store = make_typestore()
    except MessageDefinitionError as error:
        raise BagReadError(str(error)) from error
    frames, labels, episodes, episode_ids = [], [], [], {}
    for bag in find_bags(paths):
        try:
            with Reader(bag) as reader:
                connections = [c for c in reader.connections if c.topic == topic]
                if not connections:
                    topics = sorted({c.topic for c in reader.connections})
                    raise BagReadError(f'{bag}: no topic {topic} (topics: {topics})')
                for connection, stamp, data in reader.messages(connections=connections):
                    msg = store.deserialize_cdr(data, connection.msgtype)
                    key = (str(bag), msg.actor_id, int(msg.episode))
                    frames.append(_frames_of(msg.next_observation, image_keys, size, bag, stamp))
                    labels.append(bool(msg.success))
                    episodes.append(episode_ids.setdefault(key, len(episode_ids)))
        except BagReadError:
            raise
        except Exception as error:  # rosbags, mcap and sqlite raise many types
            raise BagReadError(f'{bag}: cannot read bag ({type(error).__name__}: {error})') \
                from error
    if not frames:
        raise BagReadError(f'no Transition messages on {topic} in {[str(p) for p in paths]}')
    return from_frames(frames, labels, episodes)


def _frames_of(observation, image_keys, size, bag, stamp):
    names = list(observation.image_names)
    frames = {}
    for key in image_keys:
        if key not in names:
            raise BagReadError(f'{bag}: Transition at t={stamp} ns has no image {key!r} '
                               f'(images: {names})')
        try:
            frames[key] = image_to_rgb(observation.images[names.index(key)], size)
        except ImageFormatError as error:
            raise BagReadError(f'{bag}: Transition at t={stamp} ns, image {key!r}: {error}') \
                from error
    return frames
