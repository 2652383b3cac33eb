"""run_node end to end: a probe node in its own process, stopped by a signal, over real DDS."""

import os
import signal
import subprocess
import sys
import time

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
import pytest
import rclpy
from rclpy.node import Node
from serl_common import qos
from std_msgs.msg import String

PROBE = os.path.join(os.path.dirname(__file__), 'probe_node.py')
TIMEOUT = 30.0


@pytest.fixture
def listener():
    """Yield a node that counts the probe's 'alive' messages (``node.alive``)."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('probe_listener', context=context)
    node.alive = 0

    def count(_):
        node.alive += 1
    node.create_subscription(String, '/probe/alive', count, qos.RELIABLE)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


def spin_until(node, condition, timeout=TIMEOUT):
    """Spin ``node`` until ``condition()`` holds; False after ``timeout`` seconds."""
    executor = rclpy.executors.SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout
    try:
        while not condition() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.remove_node(node)
    return condition()


def start_probe(mode):
    """Start probe_node.py in ``mode``; stdout and stderr are captured as text."""
    return subprocess.Popen([sys.executable, PROBE, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop(probe, sig=signal.SIGINT):
    """Send ``sig`` and return (exit status, stdout, stderr); kill after the timeout."""
    probe.send_signal(sig)
    try:
        out, err = probe.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        probe.kill()
        out, err = probe.communicate()
        pytest.fail(f'probe ignored {sig!r}:\n{out}\n{err}')
    return probe.returncode, out, err


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_plain_node_stops_cleanly_on_signal(listener, sig):
    probe = start_probe('plain')
    try:
        assert spin_until(listener, lambda: listener.alive > 0), 'probe never published'
    finally:
        status, out, err = stop(probe, sig)
    assert status == 0, err
    assert out.splitlines() == ['destroyed']
    assert 'Traceback' not in err


def test_lifecycle_node_on_executor_survives_invalid_transition(listener):
    probe = start_probe('lifecycle')
    try:
        assert spin_until(listener, lambda: listener.alive > 0), 'probe never published'
        client = listener.create_client(ChangeState, '/probe/change_state')
        assert spin_until(listener, lambda: client.service_is_ready())
        # configure while active is invalid: rclpy's lifecycle service raises in the probe.
        future = client.call_async(
            ChangeState.Request(transition=Transition(id=Transition.TRANSITION_CONFIGURE)))
        spin_until(listener, future.done, timeout=2.0)
        seen = listener.alive
        assert spin_until(listener, lambda: listener.alive > seen + 5), 'probe stopped'
    finally:
        status, out, err = stop(probe)
    assert status == 0, err
    assert out.splitlines() == ['destroyed']
    assert 'node keeps running' in err


def test_fatal_error_in_construction_exits_1_with_message():
    probe = start_probe('fatal')
    out, err = probe.communicate(timeout=TIMEOUT)
    assert probe.returncode == 1
    assert 'probe cannot start' in err
    assert 'Traceback' not in err
