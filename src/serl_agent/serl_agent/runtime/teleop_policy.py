"""
Teleoperation as a policy: a TCP velocity command and buttons -> agent actions (no rclpy).

The actor node (``policy: teleop``) feeds this module the newest
``geometry_msgs/TwistStamped`` (TCP velocity command, m/s, in ``fr3_link0``; from
``serl_teleop``'s ``teleop_node`` or, as a plain ``Twist``, from the ROS ``spacenav`` driver)
and ``sensor_msgs/Joy`` buttons. The button layout is the ``spacenav`` driver's for the first
two buttons, so a SpaceMouse's left/right buttons work either way:

========  ===============================================================
index     meaning
========  ===============================================================
0         close the gripper (latched: the gripper stays closed)
1         open the gripper (latched)
2         episode success: the episode ends now, marked successful
3         episode abort: the episode ends now (truncated), not successful
========  ===============================================================

Action (the env's, ``docs/architecture.md``): ``(dx, dy, dz, gripper)`` in [-1, 1], where
``action_scale * d`` metres is one control step's translation of the equilibrium pose. A
velocity ``v`` (m/s) held for one control period ``1 / control_rate`` s is the translation
``v / control_rate``, so ``d = twist_scale * v / (control_rate * action_scale)``, clipped to
[-1, 1] per axis (the same proportional scaling SERL's SpaceMouse intervention uses). The
angular part of the twist is ignored: the envs keep the TCP pointing down. A twist older than
``timeout`` seconds (time of receipt, so robot, sim and operator clocks need not agree) is
stale and gives zero motion; the gripper entry is the latched state (-1 closed, +1 open) so
every recorded step carries the operator's gripper intent, as the scripted experts' actions do.
"""

from dataclasses import dataclass
import threading
import time
from typing import Callable, Optional, Sequence

import gymnasium as gym
import numpy as np

#: ``sensor_msgs/Joy`` button indices (see the module docstring).
BUTTON_CLOSE, BUTTON_OPEN, BUTTON_SUCCESS, BUTTON_ABORT = 0, 1, 2, 3
#: Episode events returned by :meth:`TeleopPolicy.take_episode_event`.
SUCCESS, ABORT = 'success', 'abort'


@dataclass(frozen=True)
class TeleopSettings:
    """
    How operator input becomes actions.

    :ivar action_scale: m of equilibrium translation per unit action (the env's).
    :ivar control_rate: Hz of env steps.
    :ivar timeout: s after which the last twist counts as stale (zero motion).
    :ivar twist_scale: factor on the incoming linear velocity before the mapping: 1 for a
        twist in m/s (``teleop_node``); for the ``spacenav`` driver's unitless twist (about
        [-1, 1] at full deflection) the speed in m/s at full deflection, e.g. 0.3.
    :ivar deadband: |d| below this (after scaling) is zero (no drift from a resting cap).
    """

    action_scale: float = 0.03
    control_rate: float = 10.0
    timeout: float = 0.5
    twist_scale: float = 1.0
    deadband: float = 0.02

    def validate(self) -> None:
        """
        Check the settings.

        :raises ValueError: naming a non-positive scale, rate or timeout, or a bad deadband.
        """
        for name in ('action_scale', 'control_rate', 'timeout', 'twist_scale'):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f'teleop {name} must be > 0, got {value}')
        if not (0.0 <= self.deadband < 1.0):
            raise ValueError(f'teleop deadband must be in [0, 1), got {self.deadband}')


def twist_to_motion(linear: Sequence[float], settings: TeleopSettings) -> np.ndarray:
    """
    Return the normalised translation ``(dx, dy, dz)`` (3,) float32 in [-1, 1] for a velocity.

    :param linear: TCP linear velocity command (3,), m/s in ``fr3_link0`` (times
        ``twist_scale``).
    :param settings: the mapping (see the module docstring for the formula).
    :raises ValueError: a velocity that is not 3 finite numbers.
    """
    v = np.asarray(linear, dtype=np.float64).reshape(-1)
    if v.shape != (3,):
        raise ValueError(f'teleop linear velocity must have 3 entries, got shape {v.shape}')
    if not np.all(np.isfinite(v)):
        raise ValueError(f'teleop linear velocity contains NaN or inf: {v}')
    d = settings.twist_scale * v / (settings.control_rate * settings.action_scale)
    d = np.clip(d, -1.0, 1.0)
    d[np.abs(d) < settings.deadband] = 0.0
    return d.astype(np.float32)


class TeleopPolicy:
    """
    The operator as a policy: thread-safe store of the newest input, ``obs -> action``.

    ROS callbacks call :meth:`on_twist` and :meth:`on_buttons` (executor thread); the control
    loop calls :meth:`__call__` (``obs -> (action, intervention=True)``, the
    :data:`serl_agent.runtime.episode_runner.ActionFn` signature). Times are ``clock()`` seconds
    (default ``time.monotonic``).

    :param settings: :class:`TeleopSettings` (validated).
    :param clock: time source, s.
    :raises ValueError: bad settings.
    """

    def __init__(self, settings: TeleopSettings, clock: Callable[[], float] = time.monotonic):
        settings.validate()
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._motion = np.zeros(3, np.float32)
        self._received: Optional[float] = None
        self._gripper = 1.0          # the env opens the gripper at every reset
        self._buttons = ()
        self._event: Optional[str] = None
        self._gripper_pressed = False  # a gripper button was pressed this episode

    def on_twist(self, linear: Sequence[float]) -> None:
        """
        Store a TCP velocity command (m/s, ``fr3_link0``) received now.

        :raises ValueError: not 3 finite numbers (the previous command is dropped too, so a
            broken input stops the arm rather than repeating an old command).
        """
        try:
            motion = twist_to_motion(linear, self.settings)
        except ValueError:
            with self._lock:
                self._received = None
            raise
        with self._lock:
            self._motion = motion
            self._received = self.clock()

    def on_buttons(self, buttons: Sequence[int]) -> None:
        """
        Apply a ``sensor_msgs/Joy`` button state (pressed = nonzero).

        Gripper buttons act while pressed (both at once: ignored); success and abort act on
        the press (a button held over several messages is one event). An event waits for
        :meth:`take_episode_event`; success wins over abort.
        """
        pressed = tuple(bool(b) for b in buttons)

        def down(i, state):
            return len(state) > i and state[i]

        with self._lock:
            close, open_ = down(BUTTON_CLOSE, pressed), down(BUTTON_OPEN, pressed)
            if close != open_:
                self._gripper = -1.0 if close else 1.0
                self._gripper_pressed = True
            if down(BUTTON_SUCCESS, pressed) and not down(BUTTON_SUCCESS, self._buttons):
                self._event = SUCCESS
            elif (down(BUTTON_ABORT, pressed) and not down(BUTTON_ABORT, self._buttons)
                  and self._event is None):
                self._event = ABORT
            self._buttons = pressed

    def input_age(self) -> float:
        """Return seconds since the last twist (inf before the first)."""
        with self._lock:
            received = self._received
        return float('inf') if received is None else self.clock() - received

    def action(self) -> np.ndarray:
        """Return the action, shape (4,) float32 in [-1, 1]; zero motion on a stale twist."""
        with self._lock:
            fresh = self._received is not None and \
                self.clock() - self._received <= self.settings.timeout
            motion = self._motion.copy() if fresh else np.zeros(3, np.float32)
            gripper = self._gripper
        return np.append(motion, np.float32(gripper)).astype(np.float32)

    def active(self) -> bool:
        """Return True while a fresh twist asks for motion or a gripper button is held."""
        with self._lock:
            held = any(self._buttons[i] for i in (BUTTON_CLOSE, BUTTON_OPEN)
                       if i < len(self._buttons))
            return held or (self._received is not None
                            and self.clock() - self._received <= self.settings.timeout
                            and bool(np.any(self._motion != 0.0)))

    def intervention_action(self) -> np.ndarray:
        """
        Return the operator's action (4,) float32 while overriding a learnt policy.

        As :meth:`action`, except that the gripper entry is 0 (keep the policy's last gripper
        command) until the operator presses a gripper button in this episode (HIL-SERL-style
        interventions: the person takes over only what they touch).
        """
        action = self.action()
        with self._lock:
            if not self._gripper_pressed:
                action[3] = 0.0
        return action

    def __call__(self, obs) -> tuple:
        """Return ``(action, True)``: every teleoperated step is marked an intervention."""
        return self.action(), True

    def take_episode_event(self) -> Optional[str]:
        """Return and clear the pending episode event (``'success'``, ``'abort'`` or None)."""
        with self._lock:
            event, self._event = self._event, None
        return event

    def reset_episode(self) -> None:
        """Forget events from before an episode start; the gripper is open again (env reset)."""
        with self._lock:
            self._event = None
            self._gripper = 1.0
            self._gripper_pressed = False


class TeleopEpisodeEnd(gym.Wrapper):
    """
    End episodes on the operator's buttons.

    After each step: a success press gives ``terminated=True``, ``info['succeed']=True`` and
    reward ``max(reward, 1)`` (a person's success label is the sparse reward's 1, as SERL's
    human-labelled success); an abort press gives ``truncated=True``. ``reset`` forgets presses
    made before the episode.

    :param env: the agent env (Dict observations, actions in [-1, 1]).
    :param policy: the :class:`TeleopPolicy` whose events end episodes.
    """

    def __init__(self, env: gym.Env, policy: TeleopPolicy):
        super().__init__(env)
        self.policy = policy

    def reset(self, **kwargs):
        """Reset the env, then clear pending button events."""
        out = self.env.reset(**kwargs)
        self.policy.reset_episode()
        return out

    def step(self, action):
        """Step the env; apply a pending success/abort event (see the class docstring)."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        event = self.policy.take_episode_event()
        if event == SUCCESS:
            info = dict(info, succeed=True)
            reward, terminated = max(float(reward), 1.0), True
        elif event == ABORT and not terminated:
            truncated = True
        return obs, reward, terminated, truncated, info
