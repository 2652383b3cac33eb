"""
actor_node with ``teleop_intervention``: a TwistStamped over real DDS overrides the policy.

The actor runs PandaPickCube-v0 in-process (policy rlpd, no learner: ``before_weights: zero``);
the test publishes a forward velocity once transitions flow and checks that the following
transitions carry the operator's action, marked ``intervention``, and that the others do not.
"""

import subprocess
import sys
import time

from geometry_msgs.msg import TwistStamped
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from serl_msgs.msg import Transition


def test_operator_twist_overrides_the_policy_and_is_flagged():
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('teleop_actor_test', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    reliable = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    received = []
    node.create_subscription(Transition, '/serl/transitions', received.append, reliable)
    twist_pub = node.create_publisher(TwistStamped, '/teleop/twist', reliable)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'serl_agent.ros.actor_node', '--ros-args',
         '-p', 'env:=PandaPickCube-v0', '-p', 'policy:=rlpd', '-p', 'before_weights:=zero',
         '-p', 'teleop_intervention:=true', '-p', 'gym_rate:=10.0', '-p', 'max_episodes:=1',
         '-p', 'max_episode_steps:=1000', '-p', "spool_dir:=''", '-p', 'drain_timeout:=0.1'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def spin_until(condition, what, timeout, action=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            assert proc.poll() is None, proc.communicate()[0][-2000:]
            if action is not None:
                action()
            executor.spin_once(timeout_sec=0.05)
        raise AssertionError(f'timed out after {timeout} s waiting for {what}')

    def push_forward():
        msg = TwistStamped()
        msg.header.frame_id = 'fr3_link0'
        msg.twist.linear.x = 0.15  # half of action_scale * control rate
        twist_pub.publish(msg)

    try:
        spin_until(lambda: len(received) >= 3, 'steps before the operator acts', 60.0)
        assert not any(t.intervention for t in received)
        assert all(abs(t.action[0]) < 1e-6 for t in received)  # before_weights: zero
        spin_until(lambda: any(t.intervention for t in received), 'an intervention', 30.0,
                   action=push_forward)
        flagged = [t for t in received if t.intervention]
        assert all(abs(t.action[0] - 0.5) < 1e-5 and t.action[3] == 0.0 for t in flagged)
        n = len(received)
        spin_until(lambda: len(received) >= n + 10, 'steps after the operator let go', 30.0)
        assert not received[-1].intervention  # stale input (teleop_timeout) ends it
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        node.destroy_node()
        rclpy.shutdown(context=context)
