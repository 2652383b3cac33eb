"""
teleop_node over real DDS: terminal keys and SpaceMouse events come out as TwistStamped + Joy.

Keys are typed into a pseudo-terminal (the node's stdin), SpaceMouse input_event records are
written into a FIFO (the node's device); the terminal is restored; bad setups say why.
"""

import os
import pty
import signal
import subprocess
import sys
import termios
import time

from geometry_msgs.msg import TwistStamped
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Joy
from serl_teleop.gamepad import (AXIS_LEFT_Y, BUTTON_CLOSE, js_event, JS_EVENT_AXIS,
                                 JS_EVENT_BUTTON)
from serl_teleop.spacemouse import BTN_0, encode_event, EV_KEY, EV_REL, EV_SYN


class Listener:
    """Collects /teleop/twist and /teleop/joy in a test node."""

    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = Node('teleop_test_listener', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.twists, self.joys = [], []
        self.node.create_subscription(TwistStamped, '/teleop/twist', self.twists.append, qos)
        self.node.create_subscription(Joy, '/teleop/joy', self.joys.append, qos)

    def wait_for(self, condition, what, timeout=20.0, action=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if action is not None:
                action()
            self.executor.spin_once(timeout_sec=0.02)
        raise AssertionError(f'timed out after {timeout} s waiting for {what}')

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture
def listener():
    lis = Listener()
    yield lis
    lis.close()


def _start(params, **kwargs):
    argv = [sys.executable, '-m', 'serl_teleop.teleop_node', '--ros-args']
    for p in params:
        argv += ['-p', p]
    return subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, **kwargs)


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def test_keys_from_a_terminal_become_twist_and_joy(listener):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = _start(['hold_first:=0.3', 'linear_speed:=0.1'], stdin=slave)
    try:
        listener.wait_for(lambda: listener.twists and listener.joys, 'first messages')
        first = listener.twists[-1]
        assert first.header.frame_id == 'fr3_link0' and first.twist.linear.x == 0.0
        assert list(listener.joys[-1].buttons) == [0, 0, 0, 0]
        assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak while running

        os.write(master, b'w')
        listener.wait_for(lambda: listener.twists[-1].twist.linear.x == pytest.approx(0.1),
                          'forward twist after w')
        listener.wait_for(lambda: listener.twists[-1].twist.linear.x == 0.0,
                          'motion stops after the key (hold timeout)')
        os.write(master, b'ff')
        listener.wait_for(lambda: listener.twists[-1].twist.linear.z == pytest.approx(-0.1),
                          'down twist after f')
        for key, index in ((b' ', 0), (b' ', 1), (b'\r', 2), (b'\x7f', 3)):
            n = len(listener.joys)
            os.write(master, key)
            listener.wait_for(lambda: any(j.buttons[index] for j in listener.joys[n:]),
                              f'button {index} after key {key!r}')
    finally:
        rc, err = _stop(proc)
    assert rc == 0, err
    assert 'w/s: +x/-x' in err and 'gripper close' in err and 'episode success' in err
    after = termios.tcgetattr(slave)
    assert after[3] == before[3], 'terminal modes not restored'
    os.close(master)
    os.close(slave)


def test_spacemouse_events_become_twist_and_joy(listener, tmp_path):
    fifo = tmp_path / 'event99'
    os.mkfifo(fifo)
    proc = _start(['input:=spacemouse', f'device:={fifo}', 'max_speed:=0.3',
                   'full_scale:=350.0'], stdin=subprocess.DEVNULL, start_new_session=True)
    writer = None
    try:
        listener.wait_for(lambda: listener.twists, 'first messages')
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        push = b''.join(encode_event(*e) for e in ((EV_REL, 1, -350), (EV_SYN, 0, 0)))
        listener.wait_for(lambda: listener.twists[-1].twist.linear.x == pytest.approx(0.3),
                          'forward twist from the SpaceMouse',
                          action=lambda: os.write(writer, push))
        listener.wait_for(lambda: listener.twists[-1].twist.linear.x == 0.0,
                          'zero once the events stop')
        os.write(writer, encode_event(EV_KEY, BTN_0, 1) + encode_event(EV_SYN, 0, 0))
        listener.wait_for(lambda: listener.joys[-1].buttons[0] == 1, 'left button = close')
    finally:
        if writer is not None:
            os.close(writer)
        rc, err = _stop(proc)
    assert rc == 0, err
    assert 'no terminal' in err


def test_keyboard_without_a_terminal_says_so():
    proc = _start([], stdin=subprocess.DEVNULL, start_new_session=True)
    rc, err = _stop_when_exited(proc)
    assert rc == 1 and 'input keyboard needs a terminal' in err


def test_missing_spacemouse_device_says_so():
    proc = _start(['input:=spacemouse', 'device:=/dev/input/no_such_event'],
                  stdin=subprocess.DEVNULL, start_new_session=True)
    rc, err = _stop_when_exited(proc)
    assert rc == 1 and '/dev/input/no_such_event does not exist' in err


def _stop_when_exited(proc, timeout=30.0):
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError('teleop_node did not exit on a bad setup')
    return proc.returncode, err


def test_gamepad_sticks_and_buttons_become_twist_and_unplugging_stops(listener, tmp_path):
    fifo = tmp_path / 'js9'
    os.mkfifo(fifo)
    proc = _start(['input:=gamepad', f'device:={fifo}', 'max_speed:=0.2'],
                  stdin=subprocess.DEVNULL, start_new_session=True)
    writer = None
    try:
        listener.wait_for(lambda: listener.twists, 'first messages')
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(writer, js_event(JS_EVENT_AXIS, AXIS_LEFT_Y, -32767)   # left stick pushed
                 + js_event(JS_EVENT_BUTTON, BUTTON_CLOSE, 1))          # RB / R1 held
        listener.wait_for(lambda: listener.twists[-1].twist.linear.x == pytest.approx(0.2),
                          'forward twist from the left stick')
        listener.wait_for(lambda: listener.joys[-1].buttons[0] == 1, 'RB held = close')
        os.close(writer)   # unplugged mid-motion: no stale command may remain
        writer = None
        listener.wait_for(lambda: listener.twists[-1].twist.linear.x == 0.0
                          and listener.joys[-1].buttons[0] == 0, 'zero after unplugging')
    finally:
        if writer is not None:
            os.close(writer)
        rc, err = _stop(proc)
    assert rc == 0, err
    assert 'gamepad lost (end of file): motion stopped, the policy has control again' in err


def test_missing_gamepad_device_says_so():
    proc = _start(['input:=gamepad', 'device:=/dev/input/js_no_such'],
                  stdin=subprocess.DEVNULL, start_new_session=True)
    rc, err = _stop_when_exited(proc)
    assert rc == 1 and 'gamepad device /dev/input/js_no_such does not exist' in err
