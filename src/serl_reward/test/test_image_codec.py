"""Image <-> numpy conversion against real sensor_msgs/Image messages (rclpy and rosbags)."""

import numpy as np
import pytest
from rosbags.typesys import get_typestore, Stores
from sensor_msgs.msg import Image

from serl_reward.image_codec import array_to_image_fields, fill_image, image_to_array
from serl_reward.image_codec import image_to_rgb, ImageFormatError

RGB = np.random.default_rng(0).integers(0, 255, size=(4, 5, 3), dtype=np.uint8)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8'])
def test_round_trip_through_rclpy_message(encoding):
    channels = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4, 'bgra8': 4}[encoding]
    pixels = np.random.default_rng(1).integers(0, 255, size=(4, 5, channels), dtype=np.uint8)
    msg = fill_image(Image(), pixels, encoding)
    assert (msg.height, msg.width, msg.step, msg.encoding) == (4, 5, 5 * channels, encoding)
    assert np.array_equal(image_to_array(msg), pixels)


def test_rgb_view_of_every_encoding():
    bgr = fill_image(Image(), RGB[:, :, ::-1].copy(), 'bgr8')
    assert np.array_equal(image_to_rgb(bgr), RGB)
    mono = fill_image(Image(), RGB[:, :, 0], 'mono8')
    assert np.array_equal(image_to_rgb(mono), np.repeat(RGB[:, :, :1], 3, axis=2))
    rgba = fill_image(Image(), np.concatenate([RGB, RGB[:, :, :1]], axis=2), 'rgba8')
    assert np.array_equal(image_to_rgb(rgba), RGB)


def test_padded_rows_are_cut():
    msg = Image(height=4, width=5, encoding='rgb8', step=16)
    padded = np.zeros((4, 16), np.uint8)
    padded[:, :15] = RGB.reshape(4, 15)
    msg.data = padded.tobytes()
    assert np.array_equal(image_to_rgb(msg), RGB)


def test_rosbags_message_with_numpy_data():
    store = get_typestore(Stores.ROS2_JAZZY)
    image_type = store.types['sensor_msgs/msg/Image']
    header_type = store.types['std_msgs/msg/Header']
    time_type = store.types['builtin_interfaces/msg/Time']
    msg = image_type(header=header_type(stamp=time_type(sec=0, nanosec=0), frame_id=''),
                     height=0, width=0, encoding='', is_bigendian=0, step=0,
                     data=np.zeros(0, np.uint8))
    fill_image(msg, RGB, 'rgb8')
    assert isinstance(msg.data, np.ndarray)
    assert np.array_equal(image_to_rgb(msg), RGB)


def test_cv_bridge_compatible_fields():
    fields = array_to_image_fields(RGB, 'rgb8')
    assert fields['is_bigendian'] == 0 and fields['step'] == 15
    assert fields['data'] == RGB.tobytes()


def test_bad_images_raise_clear_errors():
    with pytest.raises(ImageFormatError, match='encoding .*16UC1'):
        image_to_rgb(Image(height=4, width=5, encoding='16UC1', step=10, data=bytes(40)))
    msg = fill_image(Image(), RGB, 'rgb8')
    with pytest.raises(ImageFormatError, match='4x5.*expected 8x8'):
        image_to_rgb(msg, size=(8, 8))
    short = Image(height=4, width=5, encoding='rgb8', step=15, data=bytes(30))
    with pytest.raises(ImageFormatError, match='30 bytes'):
        image_to_rgb(short)
    with pytest.raises(ImageFormatError, match='step 10'):
        image_to_rgb(Image(height=4, width=5, encoding='rgb8', step=10, data=bytes(60)))
    with pytest.raises(ImageFormatError, match='uint8'):
        array_to_image_fields(RGB.astype(np.float32))
    with pytest.raises(ImageFormatError, match='channels'):
        array_to_image_fields(RGB, 'mono8')


def test_desired_encoding_conversions():
    bgr = fill_image(Image(), RGB[:, :, ::-1].copy(), 'bgr8')
    assert np.array_equal(image_to_array(bgr, 'rgb8'), RGB)
    assert np.array_equal(image_to_array(bgr, 'passthrough'), RGB[:, :, ::-1])
    rgb = fill_image(Image(), RGB, 'rgb8')
    assert np.array_equal(image_to_array(rgb, 'bgr8'), RGB[:, :, ::-1])
    luma = np.rint(RGB.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    assert np.array_equal(image_to_array(bgr, 'mono8')[:, :, 0], luma.astype(np.uint8))
    with pytest.raises(ImageFormatError, match='16UC1'):
        image_to_array(rgb, '16UC1')


def test_one_typestore_with_serl_msgs(tmp_path):
    from serl_reward.typestore import make_typestore, MessageDefinitionError, TRANSITION_TYPE
    store = make_typestore()
    assert store is make_typestore()  # built once
    assert TRANSITION_TYPE in store.types and 'sensor_msgs/msg/Image' in store.types
    with pytest.raises(MessageDefinitionError, match='no Transition.msg'):
        make_typestore(tmp_path)
