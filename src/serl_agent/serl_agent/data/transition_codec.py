"""
Observation / Transition messages <-> dictionaries of numpy arrays (no rclpy import).

The same functions work on rclpy message objects (``serl_msgs.msg.Transition``) and on the
dataclasses that ``rosbags`` deserialises from a bag: decoding reads fields by name only (duck
typing), and encoding builds messages through a :class:`MessageTypes` factory that is either
:func:`rclpy_types` (generated ROS 2 Python classes) or :func:`rosbags_types` (a rosbags
typestore).

Image conversion is :mod:`serl_reward.image_codec` (``sensor_msgs/Image`` <-> numpy the way
``cv_bridge`` does it, padded rows, ``rgb8`` / ``bgr8`` / ``mono8`` and more); this module only
reports its errors as :class:`CodecError`.
"""

from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional

import gymnasium as gym
import numpy as np
from serl_reward import image_codec


class CodecError(ValueError):
    """A message or array cannot be converted; the text names the field that was wrong."""


# --------------------------------------------------------------------------------------------
# Message construction: one factory per message backend.


@dataclass(frozen=True)
class MessageTypes:
    """
    Constructors of the message classes a codec writes, for one backend.

    Attributes hold the classes ``Time`` (builtin_interfaces), ``Header`` (std_msgs),
    ``Image`` (sensor_msgs), ``NamedArray``, ``Observation`` and ``Transition`` (serl_msgs).
    ``array`` converts a numpy array into what that backend stores in a sequence field.
    """

    Time: Callable[..., Any]
    Header: Callable[..., Any]
    Image: Callable[..., Any]
    NamedArray: Callable[..., Any]
    Observation: Callable[..., Any]
    Transition: Callable[..., Any]
    array: Callable[[np.ndarray], Any]


def rosbags_types(typestore) -> MessageTypes:
    """
    Message constructors from a rosbags typestore holding the serl_msgs types.

    :param typestore: ``rosbags.typesys.store.Typestore`` with ``serl_msgs/msg/*`` registered
        (see :func:`serl_agent.data.bag_io.make_typestore`).

    :raises KeyError: the typestore lacks one of the types.
    """
    t = typestore.types
    return MessageTypes(
        Time=t['builtin_interfaces/msg/Time'],
        Header=t['std_msgs/msg/Header'],
        Image=t['sensor_msgs/msg/Image'],
        NamedArray=t['serl_msgs/msg/NamedArray'],
        Observation=t['serl_msgs/msg/Observation'],
        Transition=t['serl_msgs/msg/Transition'],
        array=lambda a: a,
    )


def rclpy_types() -> MessageTypes:
    """
    Message constructors from the generated ROS 2 Python message classes.

    Imports ``serl_msgs.msg``, ``sensor_msgs.msg``, ``std_msgs.msg`` and
    ``builtin_interfaces.msg`` (not rclpy itself).
    """
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import Image
    from serl_msgs.msg import NamedArray, Observation, Transition
    from std_msgs.msg import Header

    def to_seq(a: np.ndarray):
        # bytes are taken by the uint8[] setters without an element-wise loop
        return a.tobytes() if a.dtype == np.uint8 else a

    return MessageTypes(Time=Time, Header=Header, Image=Image, NamedArray=NamedArray,
                        Observation=Observation, Transition=Transition, array=to_seq)


# --------------------------------------------------------------------------------------------
# Images.


def image_to_array(msg, desired_encoding: str = 'passthrough') -> np.ndarray:
    """
    Convert a ``sensor_msgs/Image`` to a ``(height, width, channels)`` uint8 array.

    :func:`serl_reward.image_codec.image_to_array`, with its errors as :class:`CodecError`.

    :param msg: any object with the ``sensor_msgs/Image`` fields.
    :param desired_encoding: ``'passthrough'`` (keep the channel order of the message),
        ``'rgb8'``, ``'bgr8'`` or ``'mono8'`` (converted as cv_bridge does).

    :returns: A new C-contiguous uint8 array, shape (H, W, 3) for colour, (H, W, 1) for mono8.

    :raises CodecError: unsupported encoding, or ``data`` shorter than ``height * step``, or
        ``step`` smaller than ``width * channels``.
    """
    try:
        return image_codec.image_to_array(msg, desired_encoding)
    except image_codec.ImageFormatError as exc:
        raise CodecError(str(exc)) from exc


def array_to_image(img: np.ndarray, types: MessageTypes, encoding: str = 'rgb8',
                   stamp=None, frame_id: str = ''):
    """
    Build a ``sensor_msgs/Image`` from a uint8 array (unpadded rows, ``step = W * C``).

    Fields from :func:`serl_reward.image_codec.array_to_image_fields`.

    :param img: uint8, (H, W, C) with C matching ``encoding`` (3 for rgb8/bgr8, 1 for mono8), or
        (H, W) for mono8. Channel order must already be that of ``encoding``.
    :param types: message constructors of the backend.
    :param encoding: ``'rgb8'``, ``'bgr8'`` or ``'mono8'``.
    :param stamp: a ``builtin_interfaces/Time`` of the backend, or None for zero.
    :param frame_id: camera optical frame.

    :raises CodecError: wrong dtype, shape or encoding.
    """
    try:
        fields = image_codec.array_to_image_fields(img, encoding)
    except image_codec.ImageFormatError as exc:
        raise CodecError(str(exc)) from exc
    data = np.frombuffer(fields.pop('data'), dtype=np.uint8)
    return types.Image(
        header=types.Header(stamp=stamp if stamp is not None else types.Time(sec=0, nanosec=0),
                            frame_id=frame_id),
        data=types.array(data), **fields)


# --------------------------------------------------------------------------------------------
# Observations.


def is_image_key(value: np.ndarray) -> bool:
    """Return True for arrays stored as images: uint8 with shape (H, W, C)."""
    return value.dtype == np.uint8 and value.ndim == 3


def observation_to_dict(msg) -> Dict[str, np.ndarray]:
    """
    Decode a ``serl_msgs/Observation`` into ``{name: array}``.

    State arrays come back float32 with their recorded shape; images as (H, W, C) uint8 in
    rgb8 channel order (bgr8 is converted; mono8 stays (H, W, 1)).

    :raises CodecError: a NamedArray whose shape does not match its data length, duplicate names,
        or ``image_names`` and ``images`` of different lengths.
    """
    out: Dict[str, np.ndarray] = {}
    for arr in msg.state:
        name = str(arr.name)
        data = np.asarray(arr.data, dtype=np.float32)
        shape = tuple(int(s) for s in arr.shape)
        if int(np.prod(shape, dtype=np.int64)) != data.size:
            raise CodecError(f'state array {name!r}: shape {shape} does not hold '
                             f'{data.size} values')
        if name in out:
            raise CodecError(f'observation has two entries named {name!r}')
        out[name] = data.reshape(shape).copy()
    names = list(msg.image_names)
    if len(names) != len(msg.images):
        raise CodecError(f'observation has {len(names)} image_names but '
                         f'{len(msg.images)} images')
    for name, img in zip(names, msg.images):
        name = str(name)
        if name in out:
            raise CodecError(f'observation has two entries named {name!r}')
        desired = 'passthrough' if img.encoding == 'mono8' else 'rgb8'
        out[name] = image_to_array(img, desired)
    return out


def dict_to_observation(obs: Mapping[str, np.ndarray], types: MessageTypes, stamp=None):
    """
    Encode ``{name: array}`` as a ``serl_msgs/Observation``.

    uint8 arrays of shape (H, W, 3) become rgb8 images and (H, W, 1) mono8 images; every other
    array becomes a float32 NamedArray (row-major) in key order.

    :raises CodecError: a value that is not finite-convertible to float32 or an unsupported image.
    """
    state, names, images = [], [], []
    for name, value in obs.items():
        value = np.asarray(value)
        if is_image_key(value):
            enc = 'mono8' if value.shape[2] == 1 else 'rgb8'
            names.append(name)
            images.append(array_to_image(value, types, enc, stamp=stamp))
            continue
        try:
            flat = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise CodecError(f'observation entry {name!r} is not numeric: {exc}') from exc
        state.append(types.NamedArray(
            name=name, shape=types.array(np.asarray(value.shape, dtype=np.uint32)),
            data=types.array(flat)))
    return types.Observation(state=state, image_names=names, images=images)


def observation_space_from(obs: Mapping[str, np.ndarray]) -> gym.spaces.Dict:
    """
    Gymnasium Dict space for observations like ``obs`` (e.g. the first one received).

    Images (uint8, HxWxC) map to ``Box(0, 255, (H, W, C), uint8)``; state arrays to unbounded
    float32 ``Box`` of their shape. Key order is preserved.
    """
    spaces = {}
    for name, value in obs.items():
        value = np.asarray(value)
        if is_image_key(value):
            spaces[name] = gym.spaces.Box(0, 255, value.shape, np.uint8)
        else:
            spaces[name] = gym.spaces.Box(-np.inf, np.inf, value.shape, np.float32)
    return gym.spaces.Dict(spaces)


# --------------------------------------------------------------------------------------------
# Transitions.


def stamp_to_ns(stamp) -> int:
    """Nanoseconds of a ``builtin_interfaces/Time``."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int, types: MessageTypes):
    """``builtin_interfaces/Time`` of the backend for ``ns`` nanoseconds."""
    return types.Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def transition_to_dict(msg) -> Dict[str, Any]:
    """
    Decode a ``serl_msgs/Transition``.

    :returns: dict with ``observation`` and ``next_observation`` (see
        :func:`observation_to_dict`), ``action`` (float32, (A,)), ``reward`` (float),
        ``terminated``, ``truncated``, ``success``, ``intervention`` (bool), ``actor_id``
        (str), ``sequence``, ``episode``, ``step`` (int) and ``stamp_ns`` (int, ROS time of
        the command).

    :raises CodecError: see :func:`observation_to_dict`.
    """
    return {
        'observation': observation_to_dict(msg.observation),
        'action': np.asarray(msg.action, dtype=np.float32).copy(),
        'reward': float(msg.reward),
        'terminated': bool(msg.terminated),
        'truncated': bool(msg.truncated),
        'success': bool(msg.success),
        'intervention': bool(msg.intervention),
        'next_observation': observation_to_dict(msg.next_observation),
        'actor_id': str(msg.actor_id),
        'sequence': int(msg.sequence),
        'episode': int(msg.episode),
        'step': int(msg.step),
        'stamp_ns': stamp_to_ns(msg.header.stamp),
    }


def dict_to_transition(tr: Mapping[str, Any], types: MessageTypes,
                       stamp_ns: Optional[int] = None):
    """
    Encode a transition dictionary (keys as returned by :func:`transition_to_dict`).

    ``actor_id``, ``sequence``, ``episode``, ``step``, ``success``, ``intervention`` default to
    '', 0, 0, 0, False, False; ``stamp_ns`` (argument, else the dict's) to 0.

    :raises CodecError: a non-finite action or reward (a NaN must never reach a buffer).
    """
    action = np.asarray(tr['action'], dtype=np.float32).reshape(-1)
    reward = float(tr['reward'])
    if not np.all(np.isfinite(action)):
        raise CodecError(f'action is not finite: {action}')
    if not np.isfinite(reward):
        raise CodecError(f'reward is not finite: {reward}')
    ns = stamp_ns if stamp_ns is not None else int(tr.get('stamp_ns', 0))
    stamp = ns_to_stamp(ns, types)
    return types.Transition(
        header=types.Header(stamp=stamp, frame_id=''),
        actor_id=str(tr.get('actor_id', '')),
        sequence=int(tr.get('sequence', 0)),
        episode=int(tr.get('episode', 0)),
        step=int(tr.get('step', 0)),
        observation=dict_to_observation(tr['observation'], types, stamp),
        action=types.array(action),
        reward=reward,
        terminated=bool(tr['terminated']),
        truncated=bool(tr['truncated']),
        success=bool(tr.get('success', False)),
        intervention=bool(tr.get('intervention', False)),
        next_observation=dict_to_observation(tr['next_observation'], types, stamp),
    )
