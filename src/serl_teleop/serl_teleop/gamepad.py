"""
A gamepad (Xbox or PlayStation layout) through the Linux joystick interface (no rclpy).

The kernel's joystick driver (``xpad``, ``hid-playstation``, ``hid-sony``, SDL-compatible pads)
exposes a pad as ``/dev/input/js<N>``; each read gives ``struct js_event`` records
(``linux/joystick.h``): ``__u32 time`` (ms), ``__s16 value``, ``__u8 type``, ``__u8 number``.
``type`` is ``JS_EVENT_BUTTON`` (value 0/1) or ``JS_EVENT_AXIS`` (value -32767..32767), or'ed
with ``JS_EVENT_INIT`` for the state the driver reports when the device is opened.

Mapping (the same indices on the Xbox and PlayStation layouts of those drivers):

===========================  ==============================================================
left stick                   TCP x (push away: +x) and y (push left: +y), operator frame
right stick, vertical        TCP z (push up: +z)
button 5 (RB / R1), held     close the gripper
button 4 (LB / L1), held     open the gripper
button 0 (A / cross)         episode success
button 1 (B / circle)        episode abort
===========================  ==============================================================

Stick axes read "up" and "left" as negative values. Translation in ``fr3_link0`` (REP 103,
the operator behind the robot looking along +x, as the SpaceMouse's): x = -left_y,
y = -left_x, z = -right_y, scaled to ``max_speed`` at full deflection, with a deadband.
"""

from dataclasses import dataclass
from pathlib import Path
import struct
from typing import List

import numpy as np

from serl_teleop.frames import operator_to_base

#: ``struct js_event``: time (u32, ms), value (s16), type (u8), number (u8).
EVENT_FORMAT = 'IhBB'
EVENT_SIZE = struct.calcsize(EVENT_FORMAT)
JS_EVENT_BUTTON, JS_EVENT_AXIS, JS_EVENT_INIT = 0x01, 0x02, 0x80
AXIS_LEFT_X, AXIS_LEFT_Y, AXIS_RIGHT_Y = 0, 1, 4
BUTTON_SUCCESS, BUTTON_ABORT, BUTTON_OPEN, BUTTON_CLOSE = 0, 1, 4, 5
FULL_SCALE = 32767.0


class GamepadError(RuntimeError):
    """No readable joystick device."""


@dataclass(frozen=True)
class GamepadSettings:
    """
    Scaling of stick readings.

    :ivar max_speed: m/s at full deflection.
    :ivar deadband: fraction of full deflection read as 0 (a resting stick drifts a little).
    :ivar operator_yaw: rad, the operator's forward direction in ``fr3_link0``.
    """

    max_speed: float = 0.3
    deadband: float = 0.1
    operator_yaw: float = 0.0

    def validate(self) -> None:
        """Raise ``ValueError`` naming a bad setting."""
        if not (np.isfinite(self.max_speed) and self.max_speed > 0):
            raise ValueError(f'gamepad max_speed must be > 0, got {self.max_speed}')
        if not 0.0 <= self.deadband < 1.0:
            raise ValueError(f'gamepad deadband must be in [0, 1), got {self.deadband}')


def find_gamepad(device: str = '') -> str:
    """
    Return the joystick device to read: ``device``, or the first ``/dev/input/js*``.

    :raises GamepadError: naming what was looked for when there is none.
    """
    if device:
        if not Path(device).exists():
            raise GamepadError(f'gamepad device {device} does not exist')
        return device
    found = sorted(Path('/dev/input').glob('js*'))
    if not found:
        raise GamepadError('no gamepad: no /dev/input/js* device (plug it in, or set the '
                           'device parameter; the joystick driver needs read access, e.g. '
                           'membership of the input group)')
    return str(found[0])


class GamepadState:
    """
    Sticks and buttons from ``js_event`` bytes: ``feed`` them, read ``velocity`` / ``buttons``.

    ``buttons`` is ``[close, open, success, abort]`` as ``sensor_msgs/Joy`` carries them to the
    actor. Incomplete records are kept until the rest arrives.
    """

    def __init__(self, settings: GamepadSettings = GamepadSettings()):
        settings.validate()
        self.settings = settings
        self._axes = {}
        self._pressed = {}
        self._partial = b''

    def feed(self, data: bytes, now: float = 0.0) -> None:
        """Take bytes read from the device (any length)."""
        data = self._partial + data
        whole = len(data) - len(data) % EVENT_SIZE
        self._partial = data[whole:]
        for offset in range(0, whole, EVENT_SIZE):
            _, value, kind, number = struct.unpack_from(EVENT_FORMAT, data, offset)
            kind &= ~JS_EVENT_INIT
            if kind == JS_EVENT_AXIS:
                self._axes[number] = value / FULL_SCALE
            elif kind == JS_EVENT_BUTTON:
                self._pressed[number] = bool(value)

    def release(self) -> None:
        """Forget every axis and button (the device went away): zero motion, nothing held."""
        self._axes.clear()
        self._pressed.clear()
        self._partial = b''

    def _axis(self, number: int) -> float:
        value = self._axes.get(number, 0.0)
        return 0.0 if abs(value) < self.settings.deadband else value

    def velocity(self, now: float = 0.0) -> np.ndarray:
        """Return the linear TCP velocity the sticks ask for: (3,) m/s in ``fr3_link0``."""
        operator = np.array([-self._axis(AXIS_LEFT_Y), -self._axis(AXIS_LEFT_X),
                             -self._axis(AXIS_RIGHT_Y)]) * self.settings.max_speed
        return operator_to_base(operator, self.settings.operator_yaw)

    @property
    def buttons(self) -> List[int]:
        """``[close, open, success, abort]``, 1 while held."""
        return [int(self._pressed.get(b, False))
                for b in (BUTTON_CLOSE, BUTTON_OPEN, BUTTON_SUCCESS, BUTTON_ABORT)]


def js_event(kind: int, number: int, value: int, time_ms: int = 0) -> bytes:
    """One ``struct js_event`` record (for tests and virtual devices)."""
    return struct.pack(EVENT_FORMAT, time_ms, value, kind, number)
