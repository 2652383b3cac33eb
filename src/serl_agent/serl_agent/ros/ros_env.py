"""
A Gymnasium env over ROS topics: what the actor node runs on the FR3 or the sim node.

Observation (keys, units and frames as serl_sim's envs, so a policy transfers; fr3_link0):

- ``tcp_pose`` (7,): ``/franka_robot_state_broadcaster/current_pose`` position (m) and
  quaternion (x, y, z, w);
- ``tcp_vel`` (6,): linear (m/s) then angular (rad/s) TCP velocity, estimated by finite
  differences of the TCP poses over ``velocity_window`` seconds of message stamps (the robot
  streams poses at 500 Hz-1 kHz; no robot model is needed);
- ``gripper_width`` (1,): sum of ``fr3_finger_joint1`` and ``fr3_finger_joint2`` on
  ``/joint_states`` (m);
- ``object_pos`` (3,): ``/sim/object_pose`` position (sim state tasks, ``object_pose: true``);
- ``object_rel`` (3,): ``object_pos`` minus the TCP position (m; with ``object_pos``);
- images named in ``image_keys``: ``/cameras/<key>/image_raw`` as rgb8 (H, W, 3) uint8.

Action: (dx, dy, dz, gripper) in [-1, 1] -> equilibrium pose on
``/cartesian_impedance_controller/equilibrium_pose`` (current TCP + ``action_scale`` * d,
clipped into the workspace box, TCP pointing down) and ``/gripper/command`` when the gripper
sign changes (see :mod:`serl_agent.runtime.action_mapping`). Steps are paced to
``control_rate`` Hz by the wall clock.

Reward: ``reward_source: ground_truth`` asks ``/sim/get_success`` after each step (1 on
success, then ``terminated``); ``classifier`` takes the newest ``/reward``
(serl_msgs/RewardStamped) computed on a camera frame taken after the step's command: its header
stamp (the newest image's) must be later than the stamp of the TCP pose the command was
computed from, so a reward of a frame rendered before the command (e.g. the previous episode's
last frame arriving after a reset) is never taken; ``none`` gives reward 0 and no
success (teleoperated demos: the operator's success button labels the episode, see
:mod:`serl_agent.runtime.teleop_policy`). Reset: ``/sim/reset_episode``
(sim), or a move of the equilibrium to ``reset_position`` (real robot).

Safety: a robot state older than ``state_timeout`` (no ``current_pose`` or ``joint_states``
received for that long; also the object pose and camera streams once they have started)
raises :class:`StaleStateError` before any command is published. A reset waits (up to
``reset_timeout``) for a fresh message on every observed stream before the first observation.
"""

from collections import deque
from dataclasses import dataclass, fields
import threading
import time
from typing import Dict, Optional, Tuple

from geometry_msgs.msg import PoseStamped
import gymnasium as gym
import numpy as np
from sensor_msgs.msg import Image, JointState
from serl_agent.data.transition_codec import image_to_array
from serl_agent.runtime.action_mapping import (DOWN, equilibrium_target, finger_width,
                                               GRIPPER_OPEN_WIDTH, gripper_width_command,
                                               tcp_pose_vector, twist_from_poses)
from serl_common import qos
from serl_msgs.msg import GripperCommand, RewardStamped
from serl_msgs.srv import GetSuccess, ResetEpisode

BASE_FRAME = 'fr3_link0'


class StaleStateError(RuntimeError):
    """No fresh robot state: the env refuses to command the robot."""


@dataclass
class RosEnvSettings:
    """
    Parameters of :class:`RosEnv` (declared on the actor node, ``config/agent_nodes.yaml``).

    :ivar robot: ``sim`` (reset/success services, object pose exist) or ``real``.
    :ivar reward_source: ``classifier`` (/reward), ``ground_truth`` (/sim/get_success) or
        ``none`` (reward 0; success from the teleop buttons).
    :ivar control_rate: Hz of env steps (wall clock).
    :ivar action_scale: m of equilibrium translation per unit action.
    :ivar state_timeout: s without robot state before :class:`StaleStateError`.
    :ivar reset_timeout: s to wait for a reset (service answer, state after it, or reach).
    :ivar reward_timeout: s to wait after a step for a /reward of a frame taken after its
        command (then ``missing_reward``, no success, with a warning).
    :ivar missing_reward: the reward of a step whose /reward did not come in time: the reward
        source's value for "no success" (0 for a sparse reward; -10, the floor of the reward
        node's log p, for a log-probability reward).
    :ivar image_keys: camera names observed (``''`` entries ignored).
    :ivar image_size: (height, width) of the camera images.
    :ivar object_pose: observe ``/sim/object_pose`` as ``object_pos``.
    :ivar gripper_speed: m/s of gripper commands.
    :ivar gripper_force: N of closing commands.
    :ivar workspace_min: m, lower corner of the equilibrium box.
    :ivar workspace_max: m, upper corner.
    :ivar reset_position: m, equilibrium position of a real-robot reset.
    :ivar velocity_window: s of pose stamps spanned by the velocity estimate.
    :ivar ground_truth_success: sim only: ``info['succeed']`` (the episode's success, what
        evaluation rounds count) is ``/sim/get_success``'s answer whatever the reward source,
        so a classifier's false positive ends the episode (its reward) but is not counted as a
        success.
    :ivar directions: forward-backward training: the task's directions (``'forward'``,
        ``'backward'``), each with its own reward classifier on ``/reward/<direction>``; the
        reward follows the direction of the episode (reset option ``direction``). ``('',)``:
        one task, one ``/reward``.
    """

    robot: str = 'sim'
    reward_source: str = 'classifier'
    control_rate: float = 10.0
    action_scale: float = 0.03
    state_timeout: float = 0.5
    reset_timeout: float = 10.0
    reward_timeout: float = 0.5
    missing_reward: float = 0.0
    image_keys: Tuple[str, ...] = ('',)
    image_size: Tuple[int, ...] = (128, 128)
    object_pose: bool = True
    gripper_speed: float = 0.1
    gripper_force: float = 20.0
    workspace_min: Tuple[float, ...] = (0.2, -0.3, 0.0)
    workspace_max: Tuple[float, ...] = (0.6, 0.3, 0.5)
    reset_position: Tuple[float, ...] = (0.3, 0.0, 0.3)
    velocity_window: float = 0.02
    ground_truth_success: bool = False
    directions: Tuple[str, ...] = ('',)

    @classmethod
    def from_node(cls, node) -> 'RosEnvSettings':
        """
        Declare these parameters on ``node`` (defaults above) and read them.

        :raises ValueError: an unknown ``robot``/``reward_source`` or a non-positive rate.
        """
        values = {}
        for f in fields(cls):
            default = f.default
            if isinstance(default, tuple):
                default = list(default)
            if not node.has_parameter(f.name):
                node.declare_parameter(f.name, default)
            value = node.get_parameter(f.name).value
            values[f.name] = tuple(value) if isinstance(value, (list, tuple)) else value
        s = cls(**values)
        if s.robot not in ('sim', 'real'):
            raise ValueError(f'parameter robot must be sim or real, got {s.robot!r}')
        if s.reward_source not in ('classifier', 'ground_truth', 'none'):
            raise ValueError('parameter reward_source must be classifier, ground_truth or '
                             f'none, got {s.reward_source!r}')
        if s.reward_source == 'ground_truth' and s.robot != 'sim':
            raise ValueError('reward_source ground_truth needs robot sim (/sim/get_success)')
        if s.ground_truth_success and s.robot != 'sim':
            raise ValueError('ground_truth_success needs robot sim (/sim/get_success)')
        if s.control_rate <= 0 or s.state_timeout <= 0 or s.action_scale <= 0:
            raise ValueError('control_rate, state_timeout and action_scale must be > 0')
        return s


def _stamp_seconds(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


class RosEnv(gym.Env):
    """
    The robot over ROS 2 topics as a Gymnasium env; see the module docstring.

    The node's executor must spin in another thread (the actor node does): callbacks store
    the latest messages, ``reset``/``step`` run in the caller's thread.

    :param node: rclpy node that owns the subscriptions, publishers and clients.
    :param settings: :class:`RosEnvSettings`.
    """

    metadata = {'render_modes': []}

    def __init__(self, node, settings: RosEnvSettings):
        super().__init__()
        self.node = node
        self.settings = s = settings
        self.image_keys = tuple(k for k in s.image_keys if k)
        self.action_scale = s.action_scale
        self.period = 1.0 / s.control_rate
        self._lock = threading.Lock()
        self._poses = deque(maxlen=256)  # (stamp s, position, quaternion)
        self._pose_received = None
        self._joints_received = None
        self._width = None
        self._object = None
        self._images: Dict[str, np.ndarray] = {}
        self._camera_errors: Dict[str, str] = {}   # camera -> why its last frame was refused
        self._received: Dict[str, float] = {}  # stream -> time.monotonic() of the last message
        self.directions = tuple(d for d in s.directions if d) or ('',)
        self.direction = self.directions[0]   # the episode's; its classifier rewards it
        self._rewards: Dict[str, Optional[RewardStamped]] = dict.fromkeys(self.directions)
        self._gripper_width = None
        self._next_tick = None
        self.episode_start = time.monotonic()

        inf = np.inf
        spaces = {'tcp_pose': gym.spaces.Box(-inf, inf, (7,), np.float32),
                  'tcp_vel': gym.spaces.Box(-inf, inf, (6,), np.float32),
                  'gripper_width': gym.spaces.Box(0.0, GRIPPER_OPEN_WIDTH, (1,), np.float32)}
        if s.object_pose:
            spaces['object_pos'] = gym.spaces.Box(-inf, inf, (3,), np.float32)
            spaces['object_rel'] = gym.spaces.Box(-inf, inf, (3,), np.float32)
        for key in self.image_keys:
            spaces[key] = gym.spaces.Box(0, 255, tuple(s.image_size) + (3,), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)

        node.create_subscription(PoseStamped, '/franka_robot_state_broadcaster/current_pose',
                                 self._on_pose, qos.SENSOR)
        node.create_subscription(JointState, '/joint_states', self._on_joints, qos.SENSOR)
        if s.object_pose:
            node.create_subscription(PoseStamped, '/sim/object_pose', self._on_object,
                                     qos.SENSOR)
        for key in self.image_keys:
            node.create_subscription(Image, f'/cameras/{key}/image_raw',
                                     lambda m, k=key: self._on_image(k, m), qos.SENSOR)
        if s.reward_source == 'classifier':
            for direction in self.directions:
                node.create_subscription(
                    RewardStamped, f'/reward/{direction}' if direction else '/reward',
                    lambda m, d=direction: self._on_reward(d, m), qos.RELIABLE)
        self.equilibrium_pub = node.create_publisher(
            PoseStamped, '/cartesian_impedance_controller/equilibrium_pose', qos.RELIABLE)
        self.gripper_pub = node.create_publisher(GripperCommand, '/gripper/command',
                                                 qos.RELIABLE)
        self.reset_client = self.success_client = None
        if s.robot == 'sim':
            self.reset_client = node.create_client(ResetEpisode, '/sim/reset_episode')
        if s.reward_source == 'ground_truth' or s.ground_truth_success:
            self.success_client = node.create_client(GetSuccess, '/sim/get_success')

    # ------------------------------------------------------------------ callbacks
    def _on_pose(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        with self._lock:
            self._poses.append((_stamp_seconds(msg.header), (p.x, p.y, p.z),
                                (q.x, q.y, q.z, q.w)))
            self._pose_received = time.monotonic()

    def _on_joints(self, msg: JointState) -> None:
        width = finger_width(list(msg.name), list(msg.position))
        with self._lock:
            self._joints_received = time.monotonic()
            if width is not None:
                self._width = width

    def _on_object(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        with self._lock:
            self._object = (p.x, p.y, p.z)
            self._received['/sim/object_pose'] = time.monotonic()

    def _on_image(self, key: str, msg: Image) -> None:
        expected = tuple(self.settings.image_size)
        try:
            img = image_to_array(msg, 'rgb8')
            if img.shape[:2] != expected:
                raise ValueError(f'{img.shape[1]}x{img.shape[0]} frames, expected '
                                 f'{expected[1]}x{expected[0]} (image_size)')
        except ValueError as exc:
            # Not stored: the episode ends at the next step, naming the camera (nothing
            # recorded so far is lost: the finished transitions are already sent).
            with self._lock:
                self._camera_errors[key] = f'camera {key} (/cameras/{key}/image_raw): {exc}'
            self.node.get_logger().error(self._camera_errors[key], throttle_duration_sec=5.0)
            return
        with self._lock:
            self._camera_errors.pop(key, None)
            self._images[key] = img
            self._received[f'/cameras/{key}/image_raw'] = time.monotonic()

    def _on_reward(self, direction: str, msg: RewardStamped) -> None:
        with self._lock:
            self._rewards[direction] = msg

    # ------------------------------------------------------------------ state
    def state_age(self) -> float:
        """Return seconds since the older of the last TCP pose and joint state (inf: none)."""
        with self._lock:
            if self._pose_received is None or self._joints_received is None:
                return float('inf')
            return time.monotonic() - min(self._pose_received, self._joints_received)

    def _check_fresh(self) -> None:
        with self._lock:
            bad = sorted(self._camera_errors.values())
        if bad:
            raise StaleStateError('; '.join(bad) + ': no command sent')
        age = self.state_age()
        if age > self.settings.state_timeout:
            raise StaleStateError(
                f'no robot state for {age:.2f} s (> state_timeout '
                f'{self.settings.state_timeout} s) on /franka_robot_state_broadcaster/'
                'current_pose and /joint_states: no command sent')
        now = time.monotonic()
        with self._lock:
            old = {k: now - t for k, t in self._received.items()
                   if now - t > self.settings.state_timeout}
        if old:
            streams = ', '.join(f'{k} ({a:.2f} s old)' for k, a in sorted(old.items()))
            raise StaleStateError(f'stale observation stream(s) {streams} (> state_timeout '
                                  f'{self.settings.state_timeout} s): no command sent')

    def _stream_times(self) -> Dict[str, Optional[float]]:
        # lock held: every observed stream -> time.monotonic() of its last message (None: none
        # yet; joint states count once they have carried the finger joints)
        times = {'/franka_robot_state_broadcaster/current_pose': self._pose_received,
                 '/joint_states': self._joints_received if self._width is not None else None}
        if self.settings.object_pose:
            times['/sim/object_pose'] = self._received.get('/sim/object_pose')
        for key in self.image_keys:
            times[f'/cameras/{key}/image_raw'] = self._received.get(f'/cameras/{key}/image_raw')
        return times

    def wait_for_state(self, timeout: float, since: Optional[float] = None) -> None:
        """
        Wait until every observed stream is fresh; raise on timeout.

        Fresh: a message received less than ``state_timeout`` s ago on each of current_pose,
        joint_states (with the finger joints), and the object pose and cameras when observed.

        :param timeout: s to wait.
        :param since: also require, on every one of those streams, a message received after
            this ``time.monotonic()`` value (after a reset: the streams paused during it, and
            each resumes at its own time).
        :raises StaleStateError: not fresh within ``timeout`` s; names the streams.
        """
        deadline = time.monotonic() + timeout
        limit = self.settings.state_timeout
        while True:
            now = time.monotonic()
            with self._lock:
                times = self._stream_times()
            waiting = sorted(name for name, t in times.items() if t is None or now - t > limit
                             or (since is not None and t <= since))
            if not waiting:
                return
            if now > deadline:
                after = ' after the reset' if since is not None else ''
                raise StaleStateError(f'robot state not received within {timeout} s: no fresh '
                                      f'message{after} on {", ".join(waiting)}')
            time.sleep(0.005)

    def observation(self) -> Dict[str, np.ndarray]:
        """
        Return the latest robot state as an observation dict (keys: module docstring).

        :raises StaleStateError: robot state older than ``state_timeout``.
        """
        self._check_fresh()
        with self._lock:
            t1, p1, q1 = self._poses[-1]
            older = [x for x in self._poses if x[0] <= t1 - self.settings.velocity_window]
            t0, p0, q0 = older[-1] if older else self._poses[0]
            obs = {'tcp_pose': tcp_pose_vector(p1, q1)}
            obs['tcp_vel'] = (twist_from_poses(p0, q0, t0, p1, q1, t1) if t1 > t0
                              else np.zeros(6)).astype(np.float32)
            obs['gripper_width'] = np.clip([self._width], 0.0, GRIPPER_OPEN_WIDTH
                                           ).astype(np.float32)
            if self.settings.object_pose:
                obj = np.asarray(self._object, np.float64)
                obs['object_pos'] = obj.astype(np.float32)
                obs['object_rel'] = (obj - np.asarray(p1, np.float64)).astype(np.float32)
            for key in self.image_keys:
                obs[key] = self._images[key].copy()
        return obs

    def tcp_position(self) -> np.ndarray:
        """Return the latest TCP position (3,) m."""
        with self._lock:
            return np.asarray(self._poses[-1][1], np.float64)

    def object_position(self) -> Optional[np.ndarray]:
        """Return the latest object position (3,) m (sim), or None."""
        with self._lock:
            return None if self._object is None else np.asarray(self._object, np.float64)

    # ------------------------------------------------------------------ commands
    def _publish_equilibrium(self, position) -> None:
        msg = PoseStamped()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = BASE_FRAME
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (
            float(v) for v in position)
        (msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z,
         msg.pose.orientation.w) = DOWN
        self.equilibrium_pub.publish(msg)

    def _publish_gripper(self, width: float) -> None:
        if self._gripper_width == width:
            return
        msg = GripperCommand(width=float(width), speed=self.settings.gripper_speed,
                             force=self.settings.gripper_force if width <= 0.0 else 0.0)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.gripper_pub.publish(msg)
        self._gripper_width = width

    def _call(self, client, request, what: str):
        """
        Call an idempotent service; send the request again when no answer comes.

        DDS may lose a service response (or the request). The request is re-sent every
        ``reset_timeout / 4`` s (at least 0.5 s) until one answer arrives, all within
        ``reset_timeout`` s; a late answer to an earlier attempt is dropped. Safe only for
        idempotent services: ``/sim/get_success`` reads the state, and ``/sim/reset_episode``
        with the same seed gives the same episode start (unseeded, another random one).

        :raises RuntimeError: the service is not available, or did not answer in time.
        """
        timeout = self.settings.reset_timeout
        deadline = time.monotonic() + timeout
        if not client.wait_for_service(timeout_sec=timeout):
            raise RuntimeError(f'service {client.srv_name} not available ({what})')
        attempt_timeout = max(0.5, timeout / 4)
        attempts = 0
        while True:
            left = deadline - time.monotonic()
            if attempts and left <= 0:
                raise RuntimeError(f'service {client.srv_name} did not answer within '
                                   f'{timeout} s ({attempts} attempts) ({what})')
            attempts += 1
            done = threading.Event()
            future = client.call_async(request)
            future.add_done_callback(lambda _, d=done: d.set())
            if done.wait(max(0.05, min(attempt_timeout, left))):
                return future.result()
            client.remove_pending_request(future)
            self.node.get_logger().warn(f'{client.srv_name}: no answer within '
                                        f'{attempt_timeout:.1f} s, sending the request again',
                                        throttle_duration_sec=5.0)

    def _pace(self) -> None:
        now = time.monotonic()
        if self._next_tick is None or now - self._next_tick > self.period:
            self._next_tick = now  # first step, or we fell behind: restart the schedule
        self._next_tick += self.period
        time.sleep(max(0.0, self._next_tick - time.monotonic()))

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: Optional[int] = None, options=None):
        """
        Start an episode: reset the sim (or move to ``reset_position``), open the gripper.

        The sim pauses its streams while it resets, and each stream resumes at its own time:
        the first observation is taken only once every observed stream (pose, joint states,
        object pose, cameras) has delivered a message after the reset's answer, waiting at most
        ``reset_timeout`` s. The reset request is re-sent when its answer is lost (see
        :meth:`_call`).

        ``options``: ``direction`` (the task's direction from this episode on, bin
        relocation's 'forward' or 'backward': the sim's task and the classifier that rewards)
        and, sim only (a real robot never moves the objects), ``keep_objects`` (only the arm
        and gripper start over: a reset-free episode start). With ``keep_objects`` and the
        sim's success service, ``info['succeed']`` says whether the episode's goal holds
        already where the objects are.

        :raises StaleStateError: a stream silent after the reset (named).
        :raises RuntimeError: the reset service failed or did not answer (a refused
            direction: the sim's message).
        :raises ValueError: a direction this forward-backward env has no reward for (an env
            of one task passes any direction on to the sim, which refuses unknown ones).
        """
        super().reset(seed=seed)
        options = dict(options or {})
        s = self.settings
        direction = options.get('direction')
        if direction and direction in self.directions:
            self.direction = direction
        elif direction and len(self.directions) > 1:
            raise ValueError(f'direction {direction!r}: this env has rewards for '
                             f'{list(self.directions)}')
        succeed = False
        self.wait_for_state(s.reset_timeout)
        self._gripper_width = None
        if s.robot == 'sim':
            self._publish_equilibrium(self.tcp_position())  # hold still during the reset
            answer = self._call(self.reset_client, ResetEpisode.Request(
                seed=-1 if seed is None else int(seed),
                keep_objects=bool(options.get('keep_objects', False)),
                direction=str(options.get('direction', ''))), 'reset')
            if not answer.success:
                raise RuntimeError(f'/sim/reset_episode failed: {answer.message}')
            self.wait_for_state(s.reset_timeout, since=time.monotonic())  # post-reset state
            self._publish_equilibrium(self.tcp_position())
            self._publish_gripper(GRIPPER_OPEN_WIDTH)
            if options.get('keep_objects') and self.success_client is not None:
                succeed = bool(self._call(self.success_client, GetSuccess.Request(),
                                          'success').success)
        else:
            self._publish_gripper(GRIPPER_OPEN_WIDTH)
            target = np.clip(np.asarray(s.reset_position, np.float64), s.workspace_min,
                             s.workspace_max)
            deadline = time.monotonic() + s.reset_timeout
            while np.linalg.norm(self.tcp_position() - target) > 0.01:
                self._check_fresh()
                if time.monotonic() > deadline:
                    raise RuntimeError(f'reset: TCP did not reach {target} within '
                                       f'{s.reset_timeout} s')
                step = np.clip(target - self.tcp_position(), -s.action_scale, s.action_scale)
                self._publish_equilibrium(self.tcp_position() + step)
                self._pace()
        self.episode_start = time.monotonic()
        self._next_tick = None
        return self.observation(), {'succeed': succeed}

    def object_in_reach(self) -> bool:
        """
        Return whether the object can still be handled (the sim's ``object_in_reach``).

        True without the sim's success service (a real robot: a person ends the run when the
        object is lost).
        """
        if self.success_client is None:
            return True
        return bool(self._call(self.success_client, GetSuccess.Request(),
                               'success').object_in_reach)

    def step(self, action):
        """
        Command one action, wait for the next control tick, observe and reward.

        In sim (the success service), ``info['object_in_reach']`` is the sim's answer; an
        object out of reach ends the episode (``truncated``).

        :raises ValueError: NaN/inf or out-of-range action (nothing published).
        :raises StaleStateError: robot state too old (nothing published).
        """
        s = self.settings
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (4,):
            raise ValueError(f'action must have shape (4,), got {action.shape}')
        self._check_fresh()
        with self._lock:
            state_stamp, tcp, _ = self._poses[-1]
        target = equilibrium_target(np.asarray(tcp, np.float64), action, s.action_scale,
                                    s.workspace_min, s.workspace_max)
        self._publish_equilibrium(target)
        width = gripper_width_command(float(action[3]))
        if width is not None:
            self._publish_gripper(width)
        self._pace()
        obs = self.observation()
        success, reward = self._reward_after(state_stamp)
        info = {'succeed': success}
        if self.success_client is not None:   # sim: the ground truth (one call per step)
            answer = self._truth if s.reward_source == 'ground_truth' else \
                self._call(self.success_client, GetSuccess.Request(), 'success')
            if s.ground_truth_success:
                info['succeed'] = bool(answer.success)
            info['object_in_reach'] = bool(answer.object_in_reach)
        # an object out of reach ends the episode (forward-backward: the scene is reset next)
        truncated = not info.get('object_in_reach', True)
        return obs, reward, success, truncated, info

    def _reward_after(self, state_stamp: float) -> Tuple[bool, float]:
        """
        Return (success, reward) of the step whose command came from the state at ``state_stamp``.

        ``classifier``: the newest /reward whose stamp (its newest image's) is later than
        ``state_stamp`` (s, the stamp of the TCP pose the command was computed from; the robot
        and the cameras stamp with the same clock), waiting up to ``reward_timeout`` s for one.
        """
        if self.settings.reward_source == 'none':
            return False, 0.0
        if self.settings.reward_source == 'ground_truth':
            answer = self._truth = self._call(self.success_client, GetSuccess.Request(),
                                              'success')
            return bool(answer.success), float(answer.success)
        deadline = time.monotonic() + self.settings.reward_timeout
        while True:
            with self._lock:
                got = self._rewards[self.direction]
            if got is not None and _stamp_seconds(got.header) > state_stamp:
                return bool(got.success), float(got.reward)
            if time.monotonic() > deadline:
                self.node.get_logger().warn(
                    f'no /reward of a frame after the command within '
                    f'{self.settings.reward_timeout} s (newest: '
                    f'{"none" if got is None else f"stamp {_stamp_seconds(got.header):.3f} s"}, '
                    f'command from the state at {state_stamp:.3f} s): reward '
                    f'{self.settings.missing_reward:g}', throttle_duration_sec=5.0)
                return False, float(self.settings.missing_reward)
            time.sleep(0.002)


class _EpisodeClock:
    def __init__(self, env: RosEnv):
        self._env = env

    @property
    def time(self) -> float:
        return time.monotonic() - self._env.episode_start


class _ObservedPickCube:
    def cube_position(self, sim) -> np.ndarray:
        return sim.env.object_position()


PICK_CUBE_TASKS = ('pick_cube', 'PandaPickCube-v0', 'PandaPickCubeVision-v0')


def ros_expert(env: RosEnv, task: str):
    """
    Return the scripted expert of ``task`` driven by the topics.

    Pick-cube: :func:`ros_pick_cube_expert`; other serl_sim tasks (peg insertion): serl_sim's
    expert reading the target from the ``object_pos`` observation (``/sim/object_pose``, the
    hole's opening for peg insertion).

    :raises ValueError: a task with no scripted expert (named), or an env that does not
        observe the object pose.
    """
    if task in PICK_CUBE_TASKS:
        return ros_pick_cube_expert(env)
    from serl_sim.experts import make_expert
    if not env.settings.object_pose:
        raise ValueError(f'the ROS expert of {task} needs object_pose: true (/sim/object_pose)')
    return make_expert(env, task=task)


def ros_pick_cube_expert(env: RosEnv):
    """
    Return serl_sim's pick-cube expert driven by the topics (object pose from /sim/object_pose).

    serl_sim's ``PickCubeExpert`` reads the cube position, the episode time and the action
    scale from its env; here they come from :class:`RosEnv` (``object_pose: true`` needed).

    :raises ValueError: the env does not observe the object pose.
    """
    from serl_sim.experts import PickCubeExpert
    if not env.settings.object_pose:
        raise ValueError('the ROS expert needs object_pose: true (/sim/object_pose)')

    class _Proxy:
        pass

    proxy = _Proxy()
    proxy.unwrapped = proxy
    proxy.sim = _EpisodeClock(env)
    proxy.sim.env = env
    proxy.task = _ObservedPickCube()
    proxy.action_scale = env.action_scale
    return PickCubeExpert(proxy)
