"""
Keyboard teleoperation core: terminal bytes -> keys -> TCP velocity and buttons (no rclpy).

Key map (velocities in ``fr3_link0``, REP 103: x forward, y left, z up, as seen by an
operator standing behind the robot base and looking along its x axis; ``operator_yaw`` turns
the map for an operator standing elsewhere):

=============  ==============================================
key            action
=============  ==============================================
w / s          +x / -x (forward / back)
a / d          +y / -y (left / right)
r / f          +z / -z (up / down)
space          toggle the gripper (close / open)
Enter          episode success (ends the episode)
Backspace/Esc  episode abort (ends the episode, not a success)
+ / -          speed x 1.25 / / 1.25 (within [0.01, 1] m/s)
x              stop motion at once
=============  ==============================================

A terminal reports key presses, never releases; a held key repeats (autorepeat: a first delay
of 250-660 ms, then 25-40 presses a second). So a press drives its axis for ``hold_first``
seconds (longer than the autorepeat delay, so a held key moves without a stutter), a repeated
press of the same key extends that by ``hold_repeat`` seconds (longer than the repeat
interval), and the axis stops that long after the key is released. The opposite key of an
axis takes over at once. Buttons follow the ``sensor_msgs/Joy`` layout of
:mod:`serl_agent.runtime.teleop_policy` (0 close, 1 open, 2 success, 3 abort); each press is
shown as a button held for ``press_time`` seconds, so that several Joy messages carry it.
"""

from dataclasses import dataclass
import math
from typing import Dict, List, Optional, Tuple

import numpy as np

from serl_teleop.frames import operator_to_base

#: Joy button indices (serl_agent.runtime.teleop_policy's layout, spacenav-compatible for 0 and 1).
BUTTON_CLOSE, BUTTON_OPEN, BUTTON_SUCCESS, BUTTON_ABORT = 0, 1, 2, 3
NUM_BUTTONS = 4

#: key -> (axis index, sign) of the TCP velocity.
MOTION_KEYS: Dict[str, Tuple[int, float]] = {
    'w': (0, 1.0), 's': (0, -1.0),
    'a': (1, 1.0), 'd': (1, -1.0),
    'r': (2, 1.0), 'f': (2, -1.0),
}
#: Key names produced by :func:`decode_keys` for non-printing keys.
ENTER, BACKSPACE, ESCAPE, SPACE = 'enter', 'backspace', 'escape', 'space'

KEY_HELP = """serl_teleop keyboard (this terminal):
  w/s: +x/-x (forward/back)   a/d: +y/-y (left/right)   r/f: +z/-z (up/down)   x: stop
  space: toggle gripper       Enter: episode success    Backspace/Esc: abort
  +/-: faster/slower          Ctrl-C: quit"""


def decode_keys(data: bytes) -> List[str]:
    """
    Split bytes read from a terminal in cbreak mode into key names.

    Printable characters come back lower-cased (``'w'``), Enter (CR or LF) as ``'enter'``,
    Backspace (DEL or BS) as ``'backspace'``, a lone Esc as ``'escape'``, the space bar as
    ``'space'``. Escape sequences of other keys (arrows, function keys: ``ESC [ ... final``
    or ``ESC O x``) are skipped whole, so an arrow key never reads as Esc (abort).

    :param data: raw bytes, any length (several keys at once when the reader lagged).
    :returns: key names in order.
    """
    keys: List[str] = []
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x1B:  # ESC: alone, or the start of a sequence
            if i + 1 < len(data) and data[i + 1] in (ord('['), ord('O')):
                j = i + 2
                if data[i + 1] == ord('['):
                    while j < len(data) and not 0x40 <= data[j] <= 0x7E:
                        j += 1  # parameter bytes up to the final byte
                i = j + 1
                continue
            keys.append(ESCAPE)
        elif b in (0x0D, 0x0A):
            keys.append(ENTER)
        elif b in (0x7F, 0x08):
            keys.append(BACKSPACE)
        elif b == 0x20:
            keys.append(SPACE)
        elif 0x21 <= b <= 0x7E:
            keys.append(chr(b).lower())
        i += 1
    return keys


@dataclass(frozen=True)
class KeyboardSettings:
    """
    Timing and speed of keyboard teleoperation.

    :ivar linear_speed: m/s of a motion key at start.
    :ivar hold_first: s a single press drives its axis.
    :ivar hold_repeat: s an autorepeated press extends the motion.
    :ivar press_time: s a button key shows as pressed on Joy.
    :ivar operator_yaw: rad, yaw of the operator's forward direction in ``fr3_link0`` (0: the
        operator looks along +x).
    :ivar min_speed: m/s, lower bound of ``-``.
    :ivar max_speed: m/s, upper bound of ``+``.
    """

    linear_speed: float = 0.1
    hold_first: float = 0.5
    hold_repeat: float = 0.15
    press_time: float = 0.25
    operator_yaw: float = 0.0
    min_speed: float = 0.01
    max_speed: float = 1.0

    def validate(self) -> None:
        """
        Check the settings.

        :raises ValueError: naming a non-positive time or speed, or a speed out of bounds.
        """
        for name in ('linear_speed', 'hold_first', 'hold_repeat', 'press_time', 'min_speed',
                     'max_speed'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'keyboard {name} must be > 0, got {value}')
        if not self.min_speed <= self.linear_speed <= self.max_speed:
            raise ValueError(f'keyboard linear_speed {self.linear_speed} m/s is outside '
                             f'[{self.min_speed}, {self.max_speed}]')
        if not math.isfinite(self.operator_yaw):
            raise ValueError(f'keyboard operator_yaw must be finite, got {self.operator_yaw}')


class KeyboardTeleop:
    """
    Key presses -> TCP velocity (m/s, ``fr3_link0``) and Joy buttons, with held-key timing.

    Call :meth:`press` for each decoded key with the time (s, any monotonic clock) it was
    read; :meth:`velocity` and :meth:`buttons` give the command at a time.

    :param settings: :class:`KeyboardSettings` (validated).
    :raises ValueError: bad settings.
    """

    def __init__(self, settings: KeyboardSettings):
        settings.validate()
        self.settings = settings
        self.speed = settings.linear_speed
        # per axis: (sign, key, motion ends at)
        self._axes: List[Optional[Tuple[float, str, float]]] = [None, None, None]
        self._pressed_until = [-math.inf] * NUM_BUTTONS
        self.gripper_closed = False

    def press(self, key: str, now: float) -> Optional[str]:
        """
        Apply one key read at ``now`` (s).

        :returns: a short description for the operator's terminal when the key changed a
            mode (gripper, speed, episode event), else None; unknown keys are ignored.
        """
        s = self.settings
        if key in MOTION_KEYS:
            axis, sign = MOTION_KEYS[key]
            held = self._axes[axis]
            if held is not None and held[1] == key and now <= held[2]:
                until = max(held[2], now + s.hold_repeat)  # autorepeat of a held key
            else:
                until = now + s.hold_first
            self._axes[axis] = (sign, key, until)
            return None
        if key == 'x':
            self._axes = [None, None, None]
            return 'stop'
        if key == SPACE:
            self.gripper_closed = not self.gripper_closed
            button = BUTTON_CLOSE if self.gripper_closed else BUTTON_OPEN
            self._pressed_until[button] = now + s.press_time
            return 'gripper close' if self.gripper_closed else 'gripper open'
        if key == ENTER:
            self._axes = [None, None, None]
            self._pressed_until[BUTTON_SUCCESS] = now + s.press_time
            return 'episode success'
        if key in (BACKSPACE, ESCAPE):
            self._axes = [None, None, None]
            self._pressed_until[BUTTON_ABORT] = now + s.press_time
            return 'episode abort'
        if key in ('+', '='):
            self.speed = min(self.speed * 1.25, s.max_speed)
            return f'speed {self.speed:.3f} m/s'
        if key in ('-', '_'):
            self.speed = max(self.speed / 1.25, s.min_speed)
            return f'speed {self.speed:.3f} m/s'
        return None

    def episode_ended(self) -> None:
        """Note that an episode ended: the env opens the gripper at the next reset."""
        self.gripper_closed = False

    def velocity(self, now: float) -> np.ndarray:
        """Return the TCP linear velocity command (3,) float64, m/s in ``fr3_link0``."""
        v = np.zeros(3, np.float64)
        for axis, held in enumerate(self._axes):
            if held is not None and now <= held[2]:
                v[axis] = held[0] * self.speed
        return operator_to_base(v, self.settings.operator_yaw)

    def buttons(self, now: float) -> List[int]:
        """Return the Joy button states shown at ``now``: close, open, success, abort."""
        return [1 if now <= until else 0 for until in self._pressed_until]
