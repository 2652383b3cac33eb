"""
serl_viewer with a real Foxglove WebSocket client: camera frames published on ROS arrive.

The client speaks the Foxglove WebSocket protocol as the Foxglove app does: it reads the
server's channel advertisements, subscribes to ``/cameras/front``, and receives binary message
data frames (opcode 1, subscription id, timestamp, the encoded RawImage).
"""

import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import time

import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Image
from serl_bringup.command_line import command_line
from serl_bringup.graph import get_graph, NodeSpec
from serl_common import qos
import websockets


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


async def _receive_camera_frames(port: int, publish, wanted: int, timeout: float):
    """Subscribe to /cameras/front like the Foxglove app; return the frames' payload sizes."""
    deadline = time.monotonic() + timeout
    while True:   # the server starts with the node
        try:
            ws = await websockets.connect(f'ws://127.0.0.1:{port}',
                                          subprotocols=['foxglove.sdk.v1',
                                                        'foxglove.websocket.v1'])
            break
        except OSError:
            assert time.monotonic() < deadline, 'the viewer never listened'
            await asyncio.sleep(0.2)
    sizes, topics = [], {}
    async with ws:
        while len(sizes) < wanted:
            assert time.monotonic() < deadline, f'frames {sizes}, channels {topics}'
            publish()
            try:
                message = await asyncio.wait_for(ws.recv(), 0.2)
            except asyncio.TimeoutError:
                continue
            if isinstance(message, str):
                info = json.loads(message)
                for channel in info.get('channels', []):
                    topics[channel['topic']] = channel['id']
                    if channel['topic'] == '/cameras/front':
                        await ws.send(json.dumps({'op': 'subscribe', 'subscriptions': [
                            {'id': 1, 'channelId': channel['id']}]}))
            elif message[0] == 1 and struct.unpack_from('<I', message, 1)[0] == 1:
                sizes.append(len(message) - 13)   # opcode, subscription id, timestamp
    return sizes, topics


def test_a_foxglove_client_receives_the_camera_frames():
    port = _free_port()
    spec = NodeSpec('serl_bringup', 'serl_viewer', 'serl_viewer',
                    parameters=(('port', port), ('cameras', ['front', 'wrist'])))
    viewer = subprocess.Popen(command_line(spec), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('camera', context=context)
    pub = node.create_publisher(Image, '/cameras/front/image_raw', qos.SENSOR)
    image = Image(height=4, width=4, encoding='rgb8', step=12, data=bytes(range(48)))
    image.header.frame_id = 'front_camera'
    try:
        sizes, topics = asyncio.run(_receive_camera_frames(port, lambda: pub.publish(image),
                                                           3, 60.0))
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
        if viewer.poll() is None:
            os.killpg(viewer.pid, signal.SIGINT)
        out, _ = viewer.communicate(timeout=20)
    assert all(size > 48 for size in sizes), sizes   # the pixels plus the RawImage fields
    assert {'/cameras/front', '/cameras/wrist', '/tcp', '/target', '/safety_box', '/reward',
            '/episode'} <= set(topics), topics
    assert viewer.returncode == 0, out
    assert f'ws://127.0.0.1:{port}' in out


def test_viz_starts_the_viewer_in_the_training_graphs():
    for graph in ('sim', 'real'):
        names = [s.name for s in get_graph(graph).nodes({'viz': 'true'}, '/c')]
        assert 'serl_viewer' in names, graph
        assert 'serl_viewer' not in [s.name for s in get_graph(graph).nodes({}, '/c')]
