"""
``teleop_node``: a person drives the TCP from a keyboard, a SpaceMouse or a gamepad.

Publishes, at ``publish_rate`` Hz (also when nothing is pressed, so a silent node reads as
stale at the actor):

- ``/teleop/twist`` (``geometry_msgs/TwistStamped``, ``frame_id`` ``fr3_link0``): TCP linear
  velocity command, m/s (angular zero: the envs keep the TCP pointing down);
- ``/teleop/joy`` (``sensor_msgs/Joy``): ``buttons`` = [close gripper, open gripper, episode
  success, episode abort] (the ``spacenav`` driver's layout for the first two), ``axes`` =
  the twist (vx, vy, vz, wx, wy, wz).

``input: keyboard`` reads keys from the terminal (``terminal``: a tty path, '' = stdin when it
is a terminal, else ``/dev/tty``) in cbreak mode, restored at exit; key map in
:mod:`serl_teleop.keyboard` and docs/teleop.md. ``input: spacemouse`` reads the SpaceMouse's
evdev device (``device``, '' = search) for motion and its two buttons, and the terminal (when
there is one) for the other keys. ``input: gamepad`` reads an Xbox or PlayStation pad through
the Linux joystick interface (``device``, '' = the first ``/dev/input/js*``; sticks and
buttons: :mod:`serl_teleop.gamepad`). A device that goes away (unplugged, end of file) is
released with a warning: zero motion from then on, so the actor's policy takes over again and
no stale command remains. Episode summaries (``/serl/episode_summary``) are printed for
the operator and re-open the gripper toggle. Both topics are reliable (commands).
"""

import os
import select
import sys
import termios
import threading
import time
import tty

from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import Joy
from serl_common import qos
from serl_common.node_main import run_node
from serl_msgs.msg import EpisodeSummary

from serl_teleop.gamepad import find_gamepad, GamepadError, GamepadSettings, GamepadState
from serl_teleop.keyboard import decode_keys, KEY_HELP, KeyboardSettings, KeyboardTeleop
from serl_teleop.spacemouse import (find_spacemouse, read_available, SpaceMouseError,
                                    SpaceMouseSettings, SpaceMouseState)

INPUTS = ('keyboard', 'spacemouse', 'gamepad')


def open_terminal(path: str):
    """
    Return a file descriptor of the operator's terminal, or None when there is none.

    :param path: tty path; '' = stdin when it is a terminal, else the controlling terminal.
    """
    if path:
        return os.open(path, os.O_RDONLY | os.O_NOCTTY)
    if sys.stdin is not None and sys.stdin.isatty():
        return sys.stdin.fileno()
    try:
        return os.open('/dev/tty', os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return None


class TeleopNode(Node):
    """The teleop node; see the module docstring. Parameters: ``config/teleop.yaml``."""

    def __init__(self):
        super().__init__('teleop_node')
        p = {
            'input': 'keyboard', 'publish_rate': 20.0, 'twist_topic': '/teleop/twist',
            'joy_topic': '/teleop/joy', 'frame_id': 'fr3_link0', 'terminal': '',
            'linear_speed': 0.1, 'hold_first': 0.5, 'hold_repeat': 0.15, 'press_time': 0.25,
            'operator_yaw': 0.0, 'device': '', 'full_scale': 350.0, 'max_speed': 0.3,
            'rel_timeout': 0.1, 'deadband': 0.1,
        }
        for name, default in p.items():
            self.declare_parameter(name, default)
        v = {name: self.get_parameter(name).value for name in p}
        if v['input'] not in INPUTS:
            raise ValueError(f"parameter input must be one of {INPUTS}, got {v['input']!r}")
        if not v['publish_rate'] > 0:
            raise ValueError(f"parameter publish_rate must be > 0, got {v['publish_rate']}")
        self.v = v
        self._lock = threading.Lock()
        self.keyboard = KeyboardTeleop(KeyboardSettings(
            linear_speed=v['linear_speed'], hold_first=v['hold_first'],
            hold_repeat=v['hold_repeat'], press_time=v['press_time'],
            operator_yaw=v['operator_yaw']))
        self.device = None   # the SpaceMouse's or gamepad's state, fed by the read loop
        self.device_fd = None
        if v['input'] == 'spacemouse':
            self.device = SpaceMouseState(SpaceMouseSettings(
                full_scale=v['full_scale'], max_speed=v['max_speed'],
                rel_timeout=v['rel_timeout'], operator_yaw=v['operator_yaw']))
            path = find_spacemouse(v['device'])  # SpaceMouseError: clear message, exit
        elif v['input'] == 'gamepad':
            self.device = GamepadState(GamepadSettings(
                max_speed=v['max_speed'], deadband=v['deadband'],
                operator_yaw=v['operator_yaw']))
            path = find_gamepad(v['device'])  # GamepadError: clear message, exit
        if self.device is not None:
            self.device_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            self.get_logger().info(f"{v['input']}: {path}")
        self.terminal_fd = open_terminal(v['terminal'])
        self._saved_tty = None
        if self.terminal_fd is None:
            if v['input'] == 'keyboard':
                raise RuntimeError('input keyboard needs a terminal: run teleop_node in a '
                                   'terminal (ros2 run serl_teleop teleop_node) or set the '
                                   'terminal parameter to a tty path')
            self.get_logger().warn('no terminal: success/abort keys unavailable (episodes end '
                                   'at max_episode_steps)')
        else:
            self._saved_tty = termios.tcgetattr(self.terminal_fd)
            tty.setcbreak(self.terminal_fd)  # keys one by one, no echo; Ctrl-C still SIGINT
            self._say(KEY_HELP)
        self.twist_pub = self.create_publisher(TwistStamped, v['twist_topic'], qos.RELIABLE)
        self.joy_pub = self.create_publisher(Joy, v['joy_topic'], qos.RELIABLE)
        self.create_subscription(EpisodeSummary, '/serl/episode_summary', self._on_summary,
                                 qos.RELIABLE)
        self.create_timer(1.0 / v['publish_rate'], self._publish)
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self.get_logger().info(f"teleop {v['input']}: {v['twist_topic']} (TwistStamped, "
                               f"{v['frame_id']}), {v['joy_topic']} (Joy)")

    def _say(self, text: str) -> None:
        # operator feedback on the terminal the keys come from (stderr: not mixed with logs)
        print(text, file=sys.stderr, flush=True)

    def _read_loop(self) -> None:
        fds = [fd for fd in (self.terminal_fd, self.device_fd) if fd is not None]
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(fds, [], [], 0.05)
            except (OSError, ValueError):
                return  # fds closed at shutdown
            now = time.monotonic()
            for fd in ready:
                if fd == self.device_fd:
                    try:
                        data = read_available(fd)
                    except OSError as exc:  # unplugged: ENODEV
                        data, error = b'', exc
                    else:
                        error = None if data != b'' else 'end of file'
                    if error is not None:
                        fds.remove(fd)
                        with self._lock:
                            self.device.release()
                        self.get_logger().warn(
                            f"{self.v['input']} lost ({error}): motion stopped, the policy "
                            'has control again; restart teleop_node after re-plugging it')
                        if not fds:
                            return
                    elif data:
                        with self._lock:
                            self.device.feed(data, now)
                    continue
                try:
                    data = os.read(fd, 64)
                except OSError:
                    data = b''
                if not data:  # terminal closed (EOF): stop reading keys
                    fds.remove(fd)
                    if not fds:
                        return
                    continue
                for key in decode_keys(data):
                    with self._lock:
                        note = self.keyboard.press(key, now)
                    if note:
                        self._say(f'[teleop] {note}')

    def _on_summary(self, msg: EpisodeSummary) -> None:
        with self._lock:
            self.keyboard.episode_ended()
        result = 'success' if msg.success else 'failure'
        self._say(f'[teleop] episode {msg.episode}: {msg.steps} steps, {result}; '
                  'next episode starts')

    def _publish(self) -> None:
        now = time.monotonic()
        with self._lock:
            velocity = self.keyboard.velocity(now)
            buttons = self.keyboard.buttons(now)
            if self.device is not None:
                velocity = velocity + self.device.velocity(now)
                held = list(self.device.buttons) + [0] * (len(buttons) - len(self.device.buttons))
                buttons = [max(a, b) for a, b in zip(buttons, held)]
        stamp = self.get_clock().now().to_msg()
        twist = TwistStamped()
        twist.header.stamp, twist.header.frame_id = stamp, self.v['frame_id']
        twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z = (
            float(c) for c in velocity)
        joy = Joy(axes=[float(c) for c in velocity] + [0.0, 0.0, 0.0],
                  buttons=[int(b) for b in buttons])
        joy.header.stamp, joy.header.frame_id = stamp, self.v['frame_id']
        self.twist_pub.publish(twist)
        self.joy_pub.publish(joy)

    def destroy_node(self) -> None:
        """Restore the terminal and close the device (:meth:`close`), then destroy the node."""
        self.close()
        super().destroy_node()

    def close(self) -> None:
        """Stop reading, restore the terminal, close the device."""
        self._stop.set()
        self._reader.join(1.0)
        if self._saved_tty is not None:
            termios.tcsetattr(self.terminal_fd, termios.TCSADRAIN, self._saved_tty)
            self._saved_tty = None
        if self.device_fd is not None:
            os.close(self.device_fd)
            self.device_fd = None


def main(args=None) -> int:
    """Run the teleop node until Ctrl-C; the terminal is restored at exit; 1 on a bad device."""
    return run_node(TeleopNode, args,
                    fatal_errors=(SpaceMouseError, GamepadError, RuntimeError, ValueError))


if __name__ == '__main__':
    sys.exit(main())
