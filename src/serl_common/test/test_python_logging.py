"""A core library's Python log records reach the node's ROS log (/rosout) at their severity."""

import logging
import time

from rcl_interfaces.msg import Log
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from serl_common.python_logging import forward_python_logging


def test_python_records_reach_rosout_with_their_level():
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('logging_probe', context=context)
    listener = Node('rosout_listener', context=context)
    received = []
    qos = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    listener.create_subscription(Log, '/rosout', received.append, qos)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(listener)
    handler = forward_python_logging(node, 'serl_test_core')
    core = logging.getLogger('serl_test_core.module')
    try:
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not any('resumed' in m.msg for m in received):
            core.info('resumed agent from checkpoint 7')   # again until the listener matched
            core.debug('not forwarded: below INFO')
            executor.spin_once(timeout_sec=0.2)
        core.warning('buffer capacity lowered')
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not any('lowered' in m.msg for m in received):
            executor.spin_once(timeout_sec=0.2)
        mine = [m for m in received if m.name == 'logging_probe']
        info = next(m for m in mine if 'resumed' in m.msg)
        assert info.level == Log.INFO and '[serl_test_core.module]' in info.msg
        warning = next(m for m in mine if 'lowered' in m.msg)
        assert warning.level == Log.WARN
        assert not any('below INFO' in m.msg for m in mine)
    finally:
        logging.getLogger('serl_test_core').removeHandler(handler)
        executor.shutdown()
        listener.destroy_node()
        node.destroy_node()
        rclpy.shutdown(context=context)
