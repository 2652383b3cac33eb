"""
The `cartesian_impedance_controller` lifecycle node: a thin ROS 2 shell around the core law.

Subscribes the robot state (`/joint_states`, or the TCP pose in `forward` mode) and the
equilibrium pose, publishes joint efforts at `update_rate` (mode `torque`) or the limited,
box-clipped equilibrium pose for a C++ impedance controller (mode `forward`, the real FR3 path,
see docs/controller.md), and diagnostics. All math lives in `serl_controller.impedance`,
`serl_controller.reference` and `serl_controller.mujoco_model`.

Safety: a robot state older than `state_timeout` (default 20 ms, measured on the steady clock
from the state message's reception) or a failing update makes the node publish one zero-torque
command and deactivate itself with an error; it then stays inactive until activated again.
"""

import math
import os
import threading
import time
from typing import List, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy._rclpy_pybind11 import RCLError
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from serl_common import qos
from serl_common.node_main import run_node
from serl_controller.impedance import CartesianImpedanceController
from serl_controller.loop_stats import LoopStats
from serl_controller.params import (
    BASE_FIELDS, DEFAULT_GAIN_SETS, GAIN_FIELDS, ImpedanceParams, params_from_flat)
from serl_controller.reference import limit_reference
from serl_controller.robot_model import ARM_DOF
from std_msgs.msg import Float64MultiArray
from visualization_msgs.msg import Marker

NODE_NAME = 'cartesian_impedance_controller'
MODES = ('torque', 'forward')
#: FR3 reset configuration (serl_sim.description.ARM.home), rad: default nullspace target.
FR3_HOME = (0.0, -0.418615, 0.0, -2.578754, 0.0, 2.160139, 0.7853981633974483)

_NODE_PARAMETERS = {
    'mode': ('torque', 'torque: publish joint efforts; forward: publish the limited target '
                       'to a C++ impedance controller (real FR3)'),
    'update_rate': (1000.0, 'Hz of the control loop (torque mode) or of forwarding'),
    'model_path': ('', 'MJCF of the arm; empty: share/serl_sim/models/fr3.xml'),
    'tcp_site': ('fr3_hand_tcp', 'MJCF site at the TCP'),
    'joint_names': ([f'fr3_joint{i}' for i in range(1, ARM_DOF + 1)], 'arm joints, in order'),
    'base_frame': ('fr3_link0', 'frame of equilibrium poses'),
    'state_timeout': (0.02, 's; older robot state stops torques and deactivates the node'),
    'autostart': (True, 'configure at start, activate on the first robot state'),
    'auto_reactivate': (False, 'after a stale-state stop, activate again (holding the current '
                               'pose) once the robot state is fresh; for the simulator'),
    'forward_topic': ('/cartesian_impedance_example_controller/equilibrium_pose',
                      'forward mode: the C++ controller target topic (reliable)'),
    'current_pose_topic': ('/franka_robot_state_broadcaster/current_pose',
                           'forward mode: TCP pose of the robot'),
    'limited_target_rate': (100.0, 'Hz of ~/limited_target in torque mode'),
    'diagnostics_rate': (1.0, 'Hz of /diagnostics'),
    'nullspace_target_at_activation': (True, 'use q at activation as nullspace target'),
    'active_gain_set': ('compliance', 'named gain set in force'),
}


def _double_list(values) -> List[float]:
    return [float(v) for v in values]


class CartesianImpedanceControllerNode(LifecycleNode):
    """Lifecycle node running `CartesianImpedanceController` (see the module docstring)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        defaults = ImpedanceParams()
        for name, (value, text) in _NODE_PARAMETERS.items():
            self.declare_parameter(name, value, ParameterDescriptor(description=text))
        self.declare_parameter('gain_set_names', list(DEFAULT_GAIN_SETS),
                               ParameterDescriptor(read_only=True))
        for name in BASE_FIELDS:
            value = getattr(defaults, name)
            if name == 'nullspace_target':
                value = FR3_HOME
            self.declare_parameter(name, _double_list(value) if isinstance(value, tuple)
                                   else value)
        for set_name in self.get_parameter('gain_set_names').value:
            gains = DEFAULT_GAIN_SETS.get(set_name, DEFAULT_GAIN_SETS['compliance'])
            for name in GAIN_FIELDS:
                value = gains[name]
                self.declare_parameter(f'{set_name}.{name}', _double_list(value)
                                       if isinstance(value, tuple) else float(value))
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

        self.controller = CartesianImpedanceController()
        self._robot = None
        self._joint_index: Optional[np.ndarray] = None
        self._joint_index_names = None
        self._q: Optional[np.ndarray] = None
        self._dq: Optional[np.ndarray] = None
        self._current_pose = None
        self._state_received: Optional[float] = None
        self._error = ''
        self._rejected_targets = 0
        self._last_rejection = ''
        self._ticks = 0
        self._mode = 'torque'
        self._stats = LoopStats(1e-3)
        self._state_age = LoopStats(1e-3)
        self._loop_thread: Optional[threading.Thread] = None
        self._loop_stop = threading.Event()
        self._lock = threading.Lock()  # controller and latest state: loop thread vs callbacks
        self._diag_timer = None
        self._inputs = []
        self._effort_pub = None
        self._limited_pub = None
        self._forward_pub = None
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', qos.RELIABLE)
        # the workspace box equilibrium targets are clipped into, for rviz (latched)
        self._box_pub = self.create_publisher(Marker, f'/{NODE_NAME}/safety_box', qos.LATCHED)
        self._autostart_pending = bool(self.get_parameter('autostart').value)
        self._cache_loop_parameters()

    # ------------------------------------------------------------------ parameters
    def _flat_values(self, overrides=()):
        values = {name: p.value for name, p in self._parameters.items()}
        values.update({p.name: p.value for p in overrides})
        return values

    def _impedance_params(self, values) -> ImpedanceParams:
        values = dict(values)
        if values.get('nullspace_target_at_activation', True):
            values['nullspace_target'] = None
        return params_from_flat(values, values['active_gain_set'], values['gain_set_names'])

    def _validate_parameters(self, parameters) -> SetParametersResult:
        """Validate a parameter update as a whole; change nothing (the post-set hook applies)."""
        values = self._flat_values(parameters)
        try:
            if values['mode'] not in MODES:
                raise ValueError(f"mode must be one of {MODES}, got {values['mode']!r}")
            for name in ('update_rate', 'state_timeout', 'limited_target_rate',
                         'diagnostics_rate'):
                value = values[name]
                if not (isinstance(value, float) and math.isfinite(value) and value > 0.0):
                    raise ValueError(f'{name} must be a finite number > 0, got {value!r}')
            if len(values['joint_names']) != ARM_DOF:
                raise ValueError(f'joint_names must name {ARM_DOF} joints')
            self._impedance_params(values)
        except (ValueError, TypeError) as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _publish_safety_box(self, params) -> None:
        """Publish the workspace box (m, ``base_frame``) as a translucent cube Marker."""
        low = np.asarray(params.workspace_min, dtype=float)
        high = np.asarray(params.workspace_max, dtype=float)
        msg = Marker(ns='safety_box', id=0, type=Marker.CUBE, action=Marker.ADD)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self._base_frame
        center, size = (low + high) / 2.0, high - low
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, center)
        msg.pose.orientation.w = 1.0
        msg.scale.x, msg.scale.y, msg.scale.z = map(float, size)
        msg.color.r, msg.color.g, msg.color.b, msg.color.a = 1.0, 0.6, 0.0, 0.15
        self._box_pub.publish(msg)

    def _cache_loop_parameters(self) -> None:
        """Copy the parameters the control loop reads into attributes (no lookups per tick)."""
        values = self._flat_values()
        self._state_timeout = values['state_timeout']
        self._base_frame = values['base_frame']
        self._limited_every = max(1, int(round(values['update_rate']
                                               / values['limited_target_rate'])))

    def _apply_parameters(self, parameters) -> None:
        self._cache_loop_parameters()
        if self.controller.params is None:
            return
        params = self._impedance_params(self._flat_values())
        with self._lock:
            self.controller.set_params(params)
        self._publish_safety_box(params)
        changed = ', '.join(f'{p.name}={p.value}' for p in parameters)
        self.get_logger().info(f'parameters updated: {changed}')

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load parameters and the robot model, create publishers and subscriptions."""
        values = self._flat_values()
        try:
            params = self._impedance_params(values)
            self._mode = values['mode']
            if self._mode == 'torque':
                self._robot = self._load_robot_model(values)
        except (ValueError, OSError) as error:
            self.get_logger().error(f'configure failed: {error}')
            self._error = str(error)
            return TransitionCallbackReturn.FAILURE
        self.controller.on_configure(params)
        self._publish_safety_box(params)
        self._error = ''
        nominal = 1.0 / values['update_rate']
        self._stats = LoopStats(nominal)
        self._state_age = LoopStats(nominal)
        if self._mode == 'torque':
            self._inputs.append(self.create_subscription(
                JointState, '/joint_states', self._on_joint_state, qos.SENSOR))
            self._effort_pub = self.create_lifecycle_publisher(
                Float64MultiArray, '/effort_controller/commands', qos.RELIABLE)
        else:
            self._inputs.append(self.create_subscription(
                PoseStamped, values['current_pose_topic'], self._on_current_pose, qos.SENSOR))
            self._forward_pub = self.create_lifecycle_publisher(
                PoseStamped, values['forward_topic'], qos.RELIABLE)
        self._inputs.append(self.create_subscription(
            PoseStamped, f'/{NODE_NAME}/equilibrium_pose', self._on_equilibrium_pose,
            qos.RELIABLE))
        self._limited_pub = self.create_lifecycle_publisher(
            PoseStamped, f'/{NODE_NAME}/limited_target', qos.SENSOR)
        self._diag_timer = self.create_timer(1.0 / values['diagnostics_rate'],
                                             self._publish_diagnostics)
        self.get_logger().info(f'configured ({self._mode} mode, {values["update_rate"]:.0f} Hz, '
                               f'gain set {values["active_gain_set"]})')
        return TransitionCallbackReturn.SUCCESS

    def _load_robot_model(self, values):
        import mujoco  # noqa: I001 (only the torque mode needs MuJoCo)
        from serl_controller.mujoco_model import MujocoRobotModel
        path = values['model_path']
        if not path:
            from ament_index_python.packages import get_package_share_directory
            try:
                path = os.path.join(get_package_share_directory('serl_sim'), 'models', 'fr3.xml')
            except LookupError:
                raise ValueError('model_path is empty and serl_sim is not installed') from None
        if not os.path.isfile(path):
            raise ValueError(f'model_path {path!r} does not exist')
        model = mujoco.MjModel.from_xml_path(path)
        return MujocoRobotModel(model, mujoco.MjData(model), values['tcp_site'],
                                values['joint_names'])

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Hold the current pose and start the control loop; needs a fresh robot state."""
        timeout = self._state_timeout
        age = self._state_age_now()
        if age is None or age > timeout:
            self.get_logger().error(
                'activate refused: no robot state received within state_timeout '
                f'({timeout * 1e3:.0f} ms)')
            return TransitionCallbackReturn.FAILURE
        try:
            if self._mode == 'torque':
                self.controller.on_activate(self._robot.state(self._q, self._dq))
            else:
                position, quaternion = self._current_pose
                self.controller.set_equilibrium_pose(position, quaternion)
        except ValueError as error:
            self.get_logger().error(f'activate refused: {error}')
            return TransitionCallbackReturn.FAILURE
        self._error = ''
        self._autostart_pending = False
        self._stats.reset()
        self._state_age.reset()
        result = super().on_activate(state)
        self._start_loop()
        self.get_logger().info('active: holding the current pose')
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the control loop (the timer is cancelled; the last command was zero or held)."""
        self._stop_loop()
        with self._lock:
            self.controller.on_deactivate()
        self.get_logger().info('inactive')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release publishers, subscriptions, timers and the robot model."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything (from any state)."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Recover to unconfigured after an error in a transition."""
        self.get_logger().error(f'error in state {state.label}; cleaning up')
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self._stop_loop()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
        self._diag_timer = None
        for sub in self._inputs:
            self.destroy_subscription(sub)
        self._inputs = []
        for pub in (self._effort_pub, self._limited_pub, self._forward_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._effort_pub = self._limited_pub = self._forward_pub = None
        self._robot = None
        self._q = self._dq = self._current_pose = self._state_received = None

    # ------------------------------------------------------------------ inputs
    def _state_age_now(self) -> Optional[float]:
        if self._state_received is None:
            return None
        return time.monotonic() - self._state_received

    def _on_joint_state(self, msg: JointState) -> None:
        names = tuple(msg.name)
        if names != self._joint_index_names:
            try:
                self._joint_index = np.array(
                    [names.index(j) for j in self.get_parameter('joint_names').value])
            except ValueError:
                self.get_logger().error(
                    f'/joint_states lacks arm joints {self.get_parameter("joint_names").value}',
                    throttle_duration_sec=1.0)
                return
            self._joint_index_names = names
        if len(msg.velocity) != len(names) or len(msg.position) != len(names):
            self.get_logger().error('/joint_states needs position and velocity of every joint',
                                    throttle_duration_sec=1.0)
            return
        q = np.asarray(msg.position)[self._joint_index]
        dq = np.asarray(msg.velocity)[self._joint_index]
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(dq))):
            self.get_logger().error('/joint_states contains NaN/inf; ignored',
                                    throttle_duration_sec=1.0)
            return
        with self._lock:
            self._q, self._dq = q, dq
            self._state_received = time.monotonic()
        self._maybe_autostart()

    def _on_current_pose(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        pose = (np.array([p.x, p.y, p.z]), np.array([o.x, o.y, o.z, o.w]))
        if not (np.all(np.isfinite(pose[0])) and np.all(np.isfinite(pose[1]))):
            self.get_logger().error('current pose contains NaN/inf; ignored',
                                    throttle_duration_sec=1.0)
            return
        with self._lock:
            self._current_pose = pose
            self._state_received = time.monotonic()
        self._maybe_autostart()

    def _maybe_autostart(self) -> None:
        if self._autostart_pending and self._state_machine.current_state[1] == 'inactive':
            self._autostart_pending = False
            self.trigger_activate()

    def _on_equilibrium_pose(self, msg: PoseStamped) -> None:
        base = self._base_frame
        p, o = msg.pose.position, msg.pose.orientation
        try:
            if msg.header.frame_id not in ('', base):
                raise ValueError(f'frame_id {msg.header.frame_id!r}, expected {base!r}')
            with self._lock:
                clipped = self.controller.set_equilibrium_pose([p.x, p.y, p.z],
                                                               [o.x, o.y, o.z, o.w])
        except (ValueError, RuntimeError) as error:
            self._rejected_targets += 1
            self._last_rejection = str(error)
            self.get_logger().error(f'equilibrium pose rejected, holding the last valid '
                                    f'target: {error}', throttle_duration_sec=0.5)
            return
        if clipped:
            self.get_logger().warning(
                f'equilibrium position ({p.x:.3f}, {p.y:.3f}, {p.z:.3f}) outside the workspace'
                f' box; clipped to {np.round(self.controller.target_position, 3).tolist()}',
                throttle_duration_sec=1.0)

    def destroy_node(self) -> None:
        """Stop the control loop thread, then destroy the node."""
        self._stop_loop()
        super().destroy_node()

    # ------------------------------------------------------------------ loop
    def _start_loop(self) -> None:
        self._loop_stop.clear()
        self._loop_thread = threading.Thread(target=self._run_loop, name='control_loop',
                                             daemon=True)
        self._loop_thread.start()

    def _stop_loop(self) -> None:
        self._loop_stop.set()
        thread = self._loop_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        self._loop_thread = None

    def _run_loop(self) -> None:
        """
        Run `_on_tick` at `update_rate` on absolute deadlines (not an rclpy timer).

        A dedicated thread sleeping to absolute deadlines, as ros2_control's controller manager
        runs its loop, avoids the executor's per-callback overhead and keeps the period from
        drifting; an overrun skips the missed deadlines instead of bursting to catch up.
        """
        period = self._stats.nominal_period
        deadline = time.monotonic()
        while not self._loop_stop.is_set():
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0.0:
                time.sleep(delay)
            elif delay < -period:
                deadline = time.monotonic()
            if self._loop_stop.is_set() or not self.context.ok():
                break
            try:
                self._on_tick()
            except Exception:  # noqa: B902 - only the shutdown race is expected here
                if self.context.ok():
                    raise
                break  # Ctrl-C shut the context down under this thread: nothing to publish

    def _on_tick(self) -> None:
        now = time.monotonic()
        nominal = self._stats.nominal_period
        period = min(self._stats.tick(now), 2.0 * nominal)  # a stall must not widen the limits
        age = self._state_age_now()
        timeout = self._state_timeout
        if age is None or age > timeout:
            self._fault(f'robot state stale: {1e3 * (age or math.inf):.1f} ms old > '
                        f'state_timeout {timeout * 1e3:.0f} ms; torques stopped', stale=True)
            return
        self._state_age.tick(now - age)
        self._ticks += 1
        try:
            with self._lock:
                if self._mode == 'torque':
                    self._torque_step(now, period)
                else:
                    self._forward_step()
        except (ValueError, RuntimeError) as error:
            self._fault(f'update failed: {error}')

    def _torque_step(self, now: float, period: float) -> None:
        state = self._robot.state(self._q, self._dq)
        tau = self.controller.update(now, period, state)
        self._effort_pub.publish(Float64MultiArray(data=tau.tolist()))
        if self._ticks % self._limited_every == 0:
            self._limited_pub.publish(self._pose_msg(*self.controller.limited_target()))

    def _forward_step(self) -> None:
        position, quaternion = self._current_pose
        limited = limit_reference(position, quaternion, self.controller.target_position,
                                  self.controller.target_quaternion, self.controller.params)
        status = self.controller.status
        status.reference_limited = limited.limited
        status.reference_limit_hits += int(limited.limited)
        msg = self._pose_msg(limited.position, limited.quaternion)
        self._forward_pub.publish(msg)
        self._limited_pub.publish(msg)

    def _pose_msg(self, position, quaternion) -> PoseStamped:
        msg = PoseStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self._base_frame
        (msg.pose.position.x, msg.pose.position.y, msg.pose.position.z) = (
            float(v) for v in position)
        (msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z,
         msg.pose.orientation.w) = (float(v) for v in quaternion)
        return msg

    def _fault(self, reason: str, stale: bool = False) -> None:
        if self._mode == 'torque' and self._effort_pub is not None:
            self._effort_pub.publish(Float64MultiArray(data=[0.0] * ARM_DOF))
        self._loop_stop.set()
        self._error = reason
        self.get_logger().error(f'{reason}; deactivating')
        self._publish_diagnostics()
        self.trigger_deactivate()
        if stale and self.get_parameter('auto_reactivate').value:
            self.get_logger().warning('auto_reactivate: will hold the current pose again once '
                                      'the robot state is fresh')
            self._autostart_pending = True

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        lifecycle = self._state_machine.current_state[1]
        summary = self._stats.summary()
        status = self.controller.status
        diag = DiagnosticStatus(name=f'{NODE_NAME}: control loop', hardware_id='fr3')
        if self._error:
            diag.level, diag.message = DiagnosticStatus.ERROR, self._error
        elif lifecycle == 'active' and summary['samples'] and (
                summary['rate_hz'] < 0.9 / self._stats.nominal_period):
            diag.level = DiagnosticStatus.WARN
            diag.message = f'loop rate {summary["rate_hz"]:.0f} Hz below target'
        else:
            diag.level, diag.message = DiagnosticStatus.OK, lifecycle
        age = self._state_age_now()
        values = {
            'lifecycle_state': lifecycle, 'mode': self._mode,
            'active_gain_set': self.get_parameter('active_gain_set').value,
            'target_rate_hz': f'{1.0 / self._stats.nominal_period:.1f}',
            **{k: f'{v:.4g}' for k, v in summary.items()},
            'state_age_ms': 'none' if age is None else f'{age * 1e3:.2f}',
            'reference_limit_hits': str(status.reference_limit_hits),
            'rate_limit_hits': str(status.rate_limit_hits),
            'torque_limit_hits': str(status.torque_limit_hits),
            'box_clips': str(status.box_clips),
            'rejected_targets': str(self._rejected_targets),
            'last_rejection': self._last_rejection,
        }
        diag.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        msg = DiagnosticArray(status=[diag])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)


def main(args=None) -> int:
    """Run the node; with `autostart` it configures itself and activates on the first state."""
    def autostart(node):
        if node.get_parameter('autostart').value:
            node.trigger_configure()

    # rclpy's lifecycle service raises RCLError on a transition that is invalid in the current
    # state (e.g. deactivate while already inactive): the node logs it and keeps running.
    return run_node(CartesianImpedanceControllerNode, args, on_start=autostart,
                    keep_spinning_on=(RCLError,))


if __name__ == '__main__':
    main()
