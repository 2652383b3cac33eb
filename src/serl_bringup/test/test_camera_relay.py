"""serl_camera_relay: a driver's frames cropped and resized to the sim cameras', over real DDS."""

import os
import signal
import subprocess
import time

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image
from serl_bringup.camera_crop import crop_and_resize
from serl_bringup.command_line import command_line
from serl_bringup.graph import default_config_dir, get_graph, NodeSpec
from serl_bringup.launcher import parse_launch_arguments
from serl_common import qos


def marked_frame(height, width):
    """Make a grey frame with a red 40 x 40 square at its centre and a blue band at the left."""
    frame = np.full((height, width, 3), 100, np.uint8)
    cy, cx = height // 2, width // 2
    frame[cy - 20:cy + 20, cx - 20:cx + 20] = (255, 0, 0)
    frame[:, :10] = (0, 0, 255)
    return frame


@pytest.mark.parametrize('height,width', [(480, 640), (720, 1280), (640, 480), (128, 128)])
def test_centre_square_resized_to_the_sim_size(height, width):
    out = crop_and_resize(marked_frame(height, width), (128, 128))
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[64, 64], (255, 0, 0))   # the centre stays the centre
    side = min(height, width)
    red = ((out[..., 0].astype(float) - 100.0) / 155.0).clip(0.0).sum()   # edge pixels blend
    assert abs(red - (40 * 128 / side) ** 2) < 0.1 * (40 * 128 / side) ** 2
    # the left band is cropped away unless the frame is already square or portrait
    assert (out[:, :2, 2] > 200).all() == (width <= height)


def test_bad_frames_and_sizes_are_refused():
    with pytest.raises(ValueError, match='uint8'):
        crop_and_resize(np.zeros((4, 4, 3), np.float32), (2, 2))
    with pytest.raises(ValueError, match='positive'):
        crop_and_resize(np.zeros((4, 4, 3), np.uint8), (0, 2))


def test_relay_node_republishes_driver_frames_as_the_sim_cameras():
    spec = NodeSpec('serl_bringup', 'serl_camera_relay', 'camera_relay_front',
                    parameter_files=(str(default_config_dir() / 'cameras.yaml'),),
                    parameters=(('name', 'front'), ('input_topic', '/driver/color/image_raw')))
    relay = subprocess.Popen(command_line(spec), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('camera_driver', context=context)
    pub = node.create_publisher(Image, '/driver/color/image_raw', qos.SENSOR)
    received = []
    node.create_subscription(Image, '/cameras/front/image_raw', received.append, qos.SENSOR)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    rgb = marked_frame(480, 640)
    frame = Image(height=480, width=640, encoding='bgr8', step=640 * 3,
                  data=rgb[..., ::-1].tobytes())   # what realsense2_camera may send
    frame.header.frame_id = 'front_camera_optical_frame'
    frame.header.stamp.sec = 42
    try:
        deadline = time.monotonic() + 30.0
        while not received and time.monotonic() < deadline and relay.poll() is None:
            pub.publish(frame)
            executor.spin_once(timeout_sec=0.1)
        pub.publish(Image(height=2, width=2, encoding='mono16', step=4, data=bytes(8)))
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        if relay.poll() is None:
            os.killpg(relay.pid, signal.SIGINT)
        out, _ = relay.communicate(timeout=20)
    assert received, f'no frame on /cameras/front/image_raw\n{out}'
    msg = received[0]
    assert (msg.height, msg.width, msg.encoding) == (128, 128, 'rgb8')
    assert msg.header.stamp.sec == 42 and msg.header.frame_id == 'front_camera_optical_frame'
    pixels = np.frombuffer(bytes(msg.data), np.uint8).reshape(128, 128, 3)
    np.testing.assert_array_equal(pixels[64, 64], (255, 0, 0))   # bgr8 -> rgb8
    assert relay.returncode == 0, out


def test_real_graph_relays_the_camera_topics_it_is_given():
    args = parse_launch_arguments(['front_camera:=/cam_a/color/image_raw',
                                   'wrist_camera:=/cam_b/image_raw'])
    specs = {s.name: s for s in get_graph('real').nodes(args, '/c')}
    for name, topic in (('front', '/cam_a/color/image_raw'), ('wrist', '/cam_b/image_raw')):
        params = dict(specs[f'camera_relay_{name}'].parameters)
        assert params == {'name': name, 'input_topic': topic}
    plain = [s.name for s in get_graph('real').nodes(parse_launch_arguments([]), '/c')]
    assert not any(n.startswith('camera_relay') for n in plain)
