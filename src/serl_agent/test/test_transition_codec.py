"""Codec round trips on rosbags objects and on rclpy message objects."""

from agent_fixtures import assert_transition_equal, make_episode
import numpy as np
import pytest
from serl_agent.data.bag_io import make_typestore, TRANSITION_TYPE
from serl_agent.data.transition_codec import (array_to_image, CodecError, dict_to_transition,
                                              image_to_array, observation_space_from, rclpy_types,
                                              rosbags_types, transition_to_dict)


@pytest.fixture(scope='module')
def backends():
    store = make_typestore()
    return {'rosbags': rosbags_types(store), 'rclpy': rclpy_types()}, store


@pytest.mark.parametrize('backend', ['rosbags', 'rclpy'])
def test_transition_round_trip(backends, backend):
    types = backends[0][backend]
    for tr in make_episode(np.random.default_rng(1), 'a', steps=3, images=True):
        assert_transition_equal(transition_to_dict(dict_to_transition(tr, types)), tr)


def test_rclpy_message_decodes_through_rosbags_cdr(backends):
    """An rclpy message serialised by rclpy decodes with the rosbags typestore (same CDR)."""
    from rclpy.serialization import serialize_message
    (types, store) = backends
    tr = make_episode(np.random.default_rng(2), 'a', steps=1, images=True)[0]
    data = serialize_message(dict_to_transition(tr, types['rclpy']))
    assert_transition_equal(transition_to_dict(store.deserialize_cdr(data, TRANSITION_TYPE)), tr)


@pytest.mark.parametrize('backend', ['rosbags', 'rclpy'])
def test_image_encodings(backends, backend):
    types = backends[0][backend]
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    msg = array_to_image(rgb, types, 'rgb8')
    assert (msg.step, msg.encoding, msg.is_bigendian) == (21, 'rgb8', 0)
    np.testing.assert_array_equal(image_to_array(msg), rgb)
    bgr = array_to_image(np.ascontiguousarray(rgb[..., ::-1]), types, 'bgr8')
    np.testing.assert_array_equal(image_to_array(bgr, 'rgb8'), rgb)
    np.testing.assert_array_equal(image_to_array(bgr), rgb[..., ::-1])
    mono = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    mmsg = array_to_image(mono, types, 'mono8')
    assert mmsg.step == 7
    np.testing.assert_array_equal(image_to_array(mmsg)[..., 0], mono)
    np.testing.assert_array_equal(image_to_array(mmsg, 'rgb8'), np.repeat(mono[..., None], 3, 2))


def test_padded_rows_and_bad_images(backends):
    types = backends[0]['rosbags']
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = rgb.reshape(2, 9)
    msg = types.Image(header=types.Header(stamp=types.Time(sec=0, nanosec=0), frame_id=''),
                      height=2, width=3, encoding='rgb8', is_bigendian=0, step=12,
                      data=padded.reshape(-1))
    np.testing.assert_array_equal(image_to_array(msg), rgb)
    with pytest.raises(CodecError, match='height\\*step'):
        image_to_array(types.Image(header=msg.header, height=3, width=3, encoding='rgb8',
                                   is_bigendian=0, step=12, data=padded.reshape(-1)))
    with pytest.raises(CodecError, match='16UC1'):
        image_to_array(types.Image(header=msg.header, height=2, width=3, encoding='16UC1',
                                   is_bigendian=0, step=12, data=padded.reshape(-1)))
    with pytest.raises(CodecError, match='uint8'):
        array_to_image(rgb.astype(np.float32), types)


def test_nan_action_rejected(backends):
    tr = make_episode(np.random.default_rng(4), steps=1)[0]
    tr['action'][1] = np.nan
    with pytest.raises(CodecError, match='action'):
        dict_to_transition(tr, backends[0]['rosbags'])


def test_observation_space():
    tr = make_episode(np.random.default_rng(5), steps=1, images=True)[0]
    space = observation_space_from(tr['observation'])
    assert set(space.spaces) == set(tr['observation'])
    assert space['front'].dtype == np.uint8 and space['front'].shape == (16, 16, 3)
    assert space['tcp_pose'].dtype == np.float32 and space['tcp_pose'].shape == (7,)
    assert space.contains(tr['observation'])
