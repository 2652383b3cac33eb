"""
3Dconnexion SpaceMouse over the Linux input layer (evdev), without extra libraries (no rclpy).

The kernel's HID driver exposes a SpaceMouse as ``/dev/input/event<N>``; each read gives
``struct input_event`` records (``linux/input.h``): ``struct timeval`` (two native longs),
``__u16 type``, ``__u16 code``, ``__s32 value``. The six axes arrive as ``EV_REL`` (most
models) or ``EV_ABS`` codes 0..5 (X, Y, Z, RX, RY, RZ), the two side buttons as ``EV_KEY``
``BTN_0`` / ``BTN_1``, frames end with ``EV_SYN``. Raw axes: X right, Y towards the user,
Z down, full deflection about 350 counts. The kernel drops ``EV_REL`` events whose value is
0 and ``EV_ABS`` events whose value did not change, so a REL axis without an event for
``rel_timeout`` seconds reads 0 (the cap is at rest) while an ABS axis keeps its last value.

Translation in ``fr3_link0`` (REP 103, the operator behind the robot looking along +x, as
the ROS ``spacenav`` driver's twist): x = -Y (push away), y = -X (push left), z = -Z (pull up).
This module reads bytes only; opening the device is :func:`find_spacemouse` /
``os.open`` in the node (``pyspacemouse``/``hidapi`` are not needed).
"""

from dataclasses import dataclass
import math
import os
from pathlib import Path
import struct
from typing import List, Optional, Tuple

import numpy as np

from serl_teleop.frames import operator_to_base

#: ``struct input_event`` on 64-bit Linux: timeval (2 x long), type, code, value.
EVENT_FORMAT = 'llHHi'
EVENT_SIZE = struct.calcsize(EVENT_FORMAT)
EV_SYN, EV_KEY, EV_REL, EV_ABS = 0x00, 0x01, 0x02, 0x03
BTN_0, BTN_1 = 0x100, 0x101
#: USB vendor id of 3Dconnexion (older models carry Logitech's 046d: found by name).
VENDOR_3DCONNEXION = '256f'
NAME_HINTS = ('3dconnexion', 'spacemouse', 'spacenavigator', 'spacepilot', 'spaceexplorer')


class SpaceMouseError(RuntimeError):
    """No readable SpaceMouse, or a device that is not one."""


@dataclass(frozen=True)
class SpaceMouseSettings:
    """
    Scaling of SpaceMouse readings.

    :ivar full_scale: raw counts at full deflection (about 350; older models 512).
    :ivar max_speed: m/s at full deflection.
    :ivar rel_timeout: s after which an ``EV_REL`` axis without events reads 0.
    :ivar operator_yaw: rad, the operator's forward direction in ``fr3_link0``.
    """

    full_scale: float = 350.0
    max_speed: float = 0.3
    rel_timeout: float = 0.1
    operator_yaw: float = 0.0

    def validate(self) -> None:
        """
        Check the settings.

        :raises ValueError: naming a non-positive scale, speed or timeout.
        """
        for name in ('full_scale', 'max_speed', 'rel_timeout'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'spacemouse {name} must be > 0, got {value}')


class SpaceMouseState:
    """
    Parse ``input_event`` bytes into the cap's deflection and the two buttons.

    :param settings: :class:`SpaceMouseSettings` (validated).
    :raises ValueError: bad settings.
    """

    def __init__(self, settings: SpaceMouseSettings):
        settings.validate()
        self.settings = settings
        self.raw = np.zeros(6, np.float64)        # X Y Z RX RY RZ, counts
        self._rel_time = np.full(6, -math.inf)    # when each REL axis last reported
        self._is_rel = np.zeros(6, bool)
        self.buttons = [0, 0]
        self._pending = b''

    def feed(self, data: bytes, now: float) -> int:
        """
        Parse bytes read from the device at ``now`` (s); a partial record waits for more.

        :returns: the number of complete events parsed.
        """
        data = self._pending + data
        count = len(data) // EVENT_SIZE
        self._pending = data[count * EVENT_SIZE:]
        for _, _, kind, code, value in struct.iter_unpack(EVENT_FORMAT,
                                                          data[:count * EVENT_SIZE]):
            if kind in (EV_REL, EV_ABS) and code < 6:
                self.raw[code] = value
                self._is_rel[code] = kind == EV_REL
                if kind == EV_REL:
                    self._rel_time[code] = now
            elif kind == EV_KEY and code in (BTN_0, BTN_1):
                self.buttons[code - BTN_0] = 1 if value else 0
        return count

    def release(self) -> None:
        """Forget the deflection and buttons (device lost: no motion from stale values)."""
        self.raw[:] = 0.0
        self.buttons = [0, 0]

    def deflection(self, now: float) -> np.ndarray:
        """Return the six axes (X Y Z RX RY RZ) in [-1, 1] at ``now`` (stale REL axes 0)."""
        raw = self.raw.copy()
        stale = self._is_rel & (now - self._rel_time > self.settings.rel_timeout)
        raw[stale] = 0.0
        return np.clip(raw / self.settings.full_scale, -1.0, 1.0)

    def velocity(self, now: float) -> np.ndarray:
        """Return the TCP linear velocity command (3,) float64, m/s in ``fr3_link0``."""
        x, y, z = self.deflection(now)[:3]
        v = self.settings.max_speed * np.array([-y, -x, -z], np.float64)
        return operator_to_base(v, self.settings.operator_yaw)


def encode_event(kind: int, code: int, value: int, sec: int = 0, usec: int = 0) -> bytes:
    """Return one ``struct input_event`` as bytes (for tests and device replays)."""
    return struct.pack(EVENT_FORMAT, sec, usec, kind, code, value)


def list_input_devices(sys_input: str = '/sys/class/input') -> List[Tuple[str, str, str]]:
    """Return ``(event device path, name, vendor id)`` of every ``event*`` input device."""
    found = []
    root = Path(sys_input)
    if not root.is_dir():
        return found
    for entry in sorted(root.glob('event*')):
        device = entry / 'device'

        def read(path):
            try:
                return path.read_text().strip()
            except OSError:
                return ''
        found.append((f'/dev/input/{entry.name}', read(device / 'name'),
                      read(device / 'id' / 'vendor').lower()))
    return found


def find_spacemouse(device: str = '', sys_input: str = '/sys/class/input') -> str:
    """
    Return the event device path of a connected SpaceMouse, checked to be readable.

    :param device: a path to use as is ('' to search ``sys_input`` for a 3Dconnexion name).
    :raises SpaceMouseError: no SpaceMouse connected, or no permission to read it (the
        message names the device and the udev rule of docs/teleop.md).
    """
    if not device:
        candidates = [path for path, name, vendor in list_input_devices(sys_input)
                      if any(h in name.lower() for h in NAME_HINTS)
                      or vendor == VENDOR_3DCONNEXION]
        if not candidates:
            raise SpaceMouseError(
                'no 3Dconnexion SpaceMouse found (no input device named like '
                f"{', '.join(NAME_HINTS)} under {sys_input}): plug it in, or use the keyboard "
                '(input:=keyboard); a device path can be given with the device parameter')
        device = candidates[0]
    if not os.path.exists(device):
        raise SpaceMouseError(f'SpaceMouse device {device} does not exist')
    if not os.access(device, os.R_OK):
        raise SpaceMouseError(
            f'no permission to read {device}: install the udev rule of docs/teleop.md '
            '(or add yourself to the group that owns it), then re-plug the SpaceMouse')
    return device


def read_available(fd: int, size: int = 64 * EVENT_SIZE) -> Optional[bytes]:
    """Read what ``fd`` has (non-blocking fd: None when nothing is there)."""
    try:
        return os.read(fd, size)
    except BlockingIOError:
        return None
