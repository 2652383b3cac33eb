"""The main job's monitor: liveness streams are counted to their first message, then dropped."""

import threading
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState
from serl_bringup.monitor_node import MonitorNode
from serl_bringup.progress import Progress
from serl_common import qos


def _wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f'timed out after {timeout} s waiting for {what}')
        time.sleep(0.01)


def test_a_liveness_stream_is_unsubscribed_after_its_first_message(tmp_path):
    rclpy.init()
    executor = SingleThreadedExecutor()
    try:
        monitor = MonitorNode(Progress(tmp_path, eval_episodes=1), keep_weights=2)
        sim = rclpy.create_node('fake_sim')
        pub = sim.create_publisher(JointState, '/joint_states', qos.SENSOR)
        executor.add_node(monitor)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        _wait_for(lambda: pub.get_subscription_count() == 1, 20.0, 'the monitor subscribing')
        assert monitor.alive()['/joint_states'] == ('sim_node', 0)

        def first_message_counted():
            pub.publish(JointState())
            return monitor.alive()['/joint_states'][1] == 1
        _wait_for(first_message_counted, 20.0, 'the first /joint_states message')
        _wait_for(lambda: pub.get_subscription_count() == 0, 20.0,
                  'the monitor to drop its /joint_states subscription')
        for _ in range(5):
            pub.publish(JointState())
        assert monitor.alive()['/joint_states'] == ('sim_node', 1)
    finally:
        executor.shutdown()
        rclpy.try_shutdown()


def test_the_reward_nodes_diagnostic_counts_reach_the_progress(tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    rclpy.init()
    executor = SingleThreadedExecutor()
    try:
        progress = Progress(tmp_path, eval_episodes=1)
        monitor = MonitorNode(progress)
        node = rclpy.create_node('fake_reward')
        pub = node.create_publisher(DiagnosticArray, '/diagnostics', qos.RELIABLE)
        executor.add_node(monitor)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        _wait_for(lambda: pub.get_subscription_count() == 1, 20.0, 'the monitor subscribing')
        other = DiagnosticStatus(name='actor_node: episodes',
                                 values=[KeyValue(key='queries', value='99')])
        reward = DiagnosticStatus(name='reward_node: reward classifier',
                                  values=[KeyValue(key='queries', value='4'),
                                          KeyValue(key='vice_updates', value='31'),
                                          KeyValue(key='vice_loss', value='0.5')])

        def counted():
            pub.publish(DiagnosticArray(status=[other, reward]))
            with monitor.lock:
                return progress.reward_summary().get('classifier_updates') == 31
        _wait_for(counted, 20.0, "the reward node's counts")
        assert progress.reward_summary()['queries'] == 4   # not the actor's value
    finally:
        executor.shutdown()
        rclpy.try_shutdown()
