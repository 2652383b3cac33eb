"""
sensor_msgs/Image <-> numpy conversion, without cv_bridge and compatible with it.

Works on anything that has the fields of ``sensor_msgs/Image`` (``height``, ``width``,
``encoding``, ``is_bigendian``, ``step``, ``data``): an rclpy message (``data`` is an
``array.array('B')`` or ``bytes``) and a ``rosbags`` message (``data`` is a numpy uint8 array)
alike. No rclpy import: this is core code. The one image codec of the project: serl_agent's
transition codec uses it too.

Layout follows REP 104 / cv_bridge: row-major, ``step`` bytes per row (``step`` may exceed
``width * channels`` when rows are padded), 8-bit channels in the order the encoding names.
"""

import numpy as np

#: Supported 8-bit encodings and their channel counts.
CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4, 'bgra8': 4}


class ImageFormatError(ValueError):
    """An image message whose encoding, size or buffer length cannot be used."""


def image_to_array(msg, desired_encoding='passthrough'):
    """
    Return the pixels of an Image message, in its own channel order or converted.

    Equivalent to ``cv_bridge.CvBridge().imgmsg_to_cv2(msg, desired_encoding)`` for the 8-bit
    encodings in :data:`CHANNELS` (conversion as :func:`convert_encoding`).

    :param msg: a ``sensor_msgs/Image`` (or any object with its fields).
    :param desired_encoding: ``'passthrough'`` (the message's channel order), ``'rgb8'``,
        ``'bgr8'`` or ``'mono8'``.

    :returns: np.ndarray: uint8, shape (height, width, channels): channels from the encoding for
        passthrough (mono8 gives (height, width, 1)), else 3 (rgb8, bgr8) or 1 (mono8). A copy;
        it does not alias the message buffer.

    :raises ImageFormatError: unsupported encoding, zero size, ``step`` smaller than a row, a
        ``data`` buffer shorter than ``height * step``, or an unsupported ``desired_encoding``.
    """
    encoding = str(msg.encoding).lower()
    if encoding not in CHANNELS:
        raise ImageFormatError(
            f'unsupported image encoding {msg.encoding!r}; expected one of {sorted(CHANNELS)}')
    channels = CHANNELS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageFormatError(f'image has zero size ({height}x{width})')
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageFormatError(
            f'image step {step} < width {width} x {channels} channels ({encoding})')
    buffer = _as_uint8(msg.data)
    if buffer.size < height * step:
        raise ImageFormatError(
            f'image data has {buffer.size} bytes; height*step = {height} rows x step {step} '
            f'need {height * step}')
    rows = buffer[:height * step].reshape(height, step)[:, :row_bytes]
    return convert_encoding(rows.reshape(height, width, channels), encoding, desired_encoding)


def convert_encoding(pixels, encoding, desired_encoding):
    """
    Convert 8-bit pixels from one encoding to another, as cv_bridge does.

    Colour to mono8 uses the ITU-R BT.601 luma weights (0.299 R + 0.587 G + 0.114 B, rounded);
    mono8 to colour replicates the channel; alpha is dropped.

    :param pixels: uint8 array (height, width, channels) in the channel order of ``encoding``.
    :param encoding: one of :data:`CHANNELS`.
    :param desired_encoding: ``'passthrough'``, ``'rgb8'``, ``'bgr8'`` or ``'mono8'``.

    :returns: np.ndarray: a new C-contiguous uint8 array (a copy even when nothing changes),
        (height, width, 3) for rgb8 / bgr8, (height, width, 1) for mono8.

    :raises ImageFormatError: an encoding not in :data:`CHANNELS` or a ``desired_encoding``
        other than the four above.
    """
    encoding = str(encoding).lower()
    desired = str(desired_encoding).lower()
    if encoding not in CHANNELS:
        raise ImageFormatError(
            f'unsupported image encoding {encoding!r}; expected one of {sorted(CHANNELS)}')
    if desired in ('passthrough', encoding):
        return np.array(pixels, dtype=np.uint8, order='C')
    if desired not in ('rgb8', 'bgr8', 'mono8'):
        raise ImageFormatError(f'cannot convert to encoding {desired_encoding!r}; expected '
                               "'passthrough', 'rgb8', 'bgr8' or 'mono8'")
    if encoding == 'mono8':
        rgb = np.repeat(pixels, 3, axis=2)
    elif encoding in ('bgr8', 'bgra8'):
        rgb = pixels[:, :, 2::-1]
    else:
        rgb = pixels[:, :, :3]
    if desired == 'rgb8':
        return np.ascontiguousarray(rgb)
    if desired == 'bgr8':
        return np.ascontiguousarray(rgb[:, :, ::-1])
    luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[:, :, None]


def image_to_rgb(msg, size=None):
    """
    Decode an Image message into an RGB array, as the classifier consumes it.

    rgb8 is used as is, bgr8 / bgra8 are reordered, rgba8 drops alpha, and mono8 is replicated
    to three channels.

    :param msg: a ``sensor_msgs/Image`` (or any object with its fields).
    :param size: optional expected (height, width) in pixels; a different size is an error (this
        code never resizes silently).

    :returns: np.ndarray: uint8, shape (height, width, 3), channels R, G, B.

    :raises ImageFormatError: as :func:`image_to_array`, or the size differs from ``size``.
    """
    if size is not None and (int(msg.height), int(msg.width)) != tuple(size):
        raise ImageFormatError(
            f'image is {msg.height}x{msg.width} (height x width); expected '
            f'{size[0]}x{size[1]}')
    return image_to_array(msg, 'rgb8')


def array_to_image_fields(pixels, encoding='rgb8'):
    """
    Encode pixels as the fields of a ``sensor_msgs/Image`` (header excluded).

    Equivalent to ``cv_bridge.CvBridge().cv2_to_imgmsg(pixels, encoding)`` for 8-bit images:
    dense rows (``step = width * channels``), ``is_bigendian = 0``.

    :param pixels: uint8 array (height, width, channels), or (height, width) for mono8, already in
        the channel order ``encoding`` names.
    :param encoding: one of :data:`CHANNELS`.

    :returns: dict: ``height``, ``width``, ``encoding``, ``is_bigendian``, ``step`` (ints /
        str) and ``data`` (bytes).

    :raises ImageFormatError: unsupported encoding, non-uint8 dtype, or a channel count that does
        not match the encoding.
    """
    if encoding not in CHANNELS:
        raise ImageFormatError(
            f'unsupported image encoding {encoding!r}; expected one of {sorted(CHANNELS)}')
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ImageFormatError(f'pixels must be uint8, got {pixels.dtype}')
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] != CHANNELS[encoding]:
        raise ImageFormatError(
            f'pixels of shape {pixels.shape} do not fit encoding {encoding} '
            f'({CHANNELS[encoding]} channels)')
    height, width, channels = pixels.shape
    return {
        'height': height, 'width': width, 'encoding': encoding, 'is_bigendian': 0,
        'step': width * channels, 'data': np.ascontiguousarray(pixels).tobytes(),
    }


def fill_image(msg, pixels, encoding='rgb8'):
    """
    Write pixels into an existing Image message (header untouched) and return it.

    :param msg: a ``sensor_msgs/Image`` (rclpy or rosbags type; any object with its fields).
    :param pixels, encoding: as :func:`array_to_image_fields`.

    :returns: The same ``msg``.

    :raises ImageFormatError: as :func:`array_to_image_fields`.
    """
    fields = array_to_image_fields(pixels, encoding)
    data = fields.pop('data')
    for name, value in fields.items():
        setattr(msg, name, value)
    if isinstance(getattr(msg, 'data', None), np.ndarray):
        msg.data = np.frombuffer(data, dtype=np.uint8).copy()
    else:
        msg.data = data
    return msg


def _as_uint8(data):
    """View (no copy where possible) of a message's ``data`` field as a flat uint8 array."""
    if isinstance(data, np.ndarray):
        return np.asarray(data, dtype=np.uint8).reshape(-1)
    try:
        return np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8)  # bytes, array('B')
    except TypeError:
        return np.frombuffer(bytes(bytearray(data)), dtype=np.uint8)  # a list of ints
