"""
The simulated FR3 as a ROS 2 node: the topics and command interface of the real robot.

Publishes what franka_ros2 offers on an FR3 (``/joint_states``, the
``franka_robot_state_broadcaster`` pose, wrench and measured joint states), the cameras
(``/cameras/{front,wrist}/image_raw`` + ``camera_info``), ``/clock`` and a latched
``/robot_description``; accepts gripper commands on ``/gripper/command``; offers
``/sim/reset_episode`` and ``/sim/get_success``. The arm is commanded as the FR3 is under one of
two franka_ros2 controllers (parameter ``control_mode``):

- ``effort``: joint torques on ``/effort_controller/commands`` (an effort controller; a torque
  loop such as ``serl_controller`` in ``torque`` mode closes the impedance law over DDS);
- ``impedance``: equilibrium poses (``geometry_msgs/PoseStamped``, reliable) on
  ``/cartesian_impedance_example_controller/equilibrium_pose``, as franka_ros2's C++ Cartesian
  impedance controller takes them; the law runs inside the sim at the physics rate
  (:mod:`serl_sim.impedance_loop`) and effort commands are ignored (counted).

Topic names, types and QoS: docs/architecture.md. All logic lives in the pure modules
(:mod:`serl_sim.simulation`, :mod:`serl_sim.effort_guard`, :mod:`serl_sim.impedance_loop`,
:mod:`serl_sim.pacing`); this module only translates messages and parameters.

Threads: the executor (main thread) serves subscriptions, services and the diagnostics timer;
a physics thread steps MuJoCo paced to the wall clock and publishes the state streams; a camera
thread renders snapshots of the state (taken by the physics thread at the camera rate) in
parallel and publishes the images; a frame still rendering when the next is due is dropped
(counted). A lock serialises access to the simulation.
"""

import array
import math
import sys
import threading
import time
from typing import Optional

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, WrenchStamped
import mujoco
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from serl_common.node_main import run_node
from serl_common.qos import LATCHED, RELIABLE, SENSOR
from serl_controller.params import ImpedanceParams
from serl_msgs.msg import GripperCommand
from serl_msgs.srv import GetSuccess, ResetEpisode
from serl_sim import description
from serl_sim.effort_guard import EffortGuard
from serl_sim.impedance_loop import ImpedanceLoop
from serl_sim.pacing import Pacer
from serl_sim.scene import CAMERA_NAMES
from serl_sim.simulation import FrankaSim, JOINT_NAMES
from serl_sim.tasks import make_task
from std_msgs.msg import Float64MultiArray, String

BROADCASTER = '/franka_robot_state_broadcaster'
CONTROL_MODES = ('effort', 'impedance')

#: name -> (default, description). Loaded from config/sim.yaml.
PARAMETERS = {
    'task': ('PandaPickCube-v0', 'Gymnasium env id of the task'),
    'start_area': ('', 'tasks with start areas (bin relocation): where a full reset starts the '
                   'object, source (its source region) or tray (anywhere pickable outside the '
                   "target); empty: the task's default"),
    'physics_rate': (500.0, 'Hz; MuJoCo timestep = 1 / physics_rate'),
    'real_time_factor': (1.0, 'sim seconds per wall second (> 0)'),
    'state_rate': (500.0, 'Hz (sim time) of the joint state, pose, wrench and /clock streams'),
    'control_mode': ('effort', 'effort: joint torques on /effort_controller/commands; '
                     'impedance: equilibrium poses on equilibrium_pose_topic, the Cartesian '
                     'impedance law runs in the sim at the physics rate (franka_ros2 C++ '
                     'controller)'),
    'equilibrium_pose_topic': ('/cartesian_impedance_example_controller/equilibrium_pose',
                               'impedance mode: target pose topic (PoseStamped, reliable)'),
    'effort_hold': (0.005, 's (sim time) a valid effort command stays in force'),
    'camera_rate': (10.0, 'Hz (sim time) of the camera images; 0 disables them'),
    'camera_width': (128, 'pixels'),
    'camera_height': (128, 'pixels'),
    'headless': (True, 'false opens the MuJoCo viewer (needs a display)'),
    'seed': (0, 'seed of the first episode; -1: unseeded'),
    'diagnostics_rate': (1.0, 'Hz (wall time) of /diagnostics'),
}
#: impedance mode: ``impedance.<field>`` of serl_controller's ImpedanceParams; the nullspace
#: target is the joint configuration at each reset. Defaults: :func:`impedance_defaults`.
IMPEDANCE_PARAMETERS = tuple(
    name for name in ImpedanceParams().to_dict() if name != 'nullspace_target')


def impedance_defaults(task) -> dict:
    """
    Return the default ``impedance.*`` parameter values for ``task``.

    serl_controller's ImpedanceParams defaults (the controller node's compliance set) with the
    task's own gains and limits on top (``task.impedance``, e.g. pick-cube's 2 cm error clip and
    faster target filter), exactly as the task's Gymnasium env sets up the same law, so that a
    policy or expert moves the arm alike in the env and in the graph. The workspace box stays
    the controller's (the task's box is the actor's concern).
    """
    values = task.impedance_params().to_dict()
    return {name: list(values[name]) if isinstance(values[name], tuple) else values[name]
            for name in IMPEDANCE_PARAMETERS}


def _stamp(seconds: float) -> Time:
    sec = int(math.floor(seconds))
    return Time(sec=sec, nanosec=int((seconds - sec) * 1e9))


class SimNode(Node):
    """
    MuJoCo FR3 mirroring the real robot's ROS 2 interface.

    Raises
    ------
        ValueError: naming the parameter, for an unknown task or a non-positive rate.

    """

    def __init__(self, **kwargs) -> None:
        super().__init__('sim_node', **kwargs)
        for name, (default, text) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=text))
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        task = make_task(p['task'])
        if p['start_area']:
            if not hasattr(task, 'start_area'):
                raise ValueError(f'parameter start_area: task {p["task"]} has no start areas')
            try:
                task.start_area = p['start_area']
            except ValueError as exc:
                raise ValueError(f'parameter start_area: {exc}') from None
        for name, default in impedance_defaults(task).items():
            self.declare_parameter(f'impedance.{name}', default, ParameterDescriptor(
                description='impedance mode: serl_controller ImpedanceParams field '
                            "(default: the task env's value)"))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        for name in ('physics_rate', 'real_time_factor', 'state_rate', 'effort_hold',
                     'diagnostics_rate'):
            if not (isinstance(p[name], (int, float)) and math.isfinite(p[name])
                    and p[name] > 0):
                raise ValueError(f'parameter {name} must be a positive number, got {p[name]!r}')
        if not p['camera_rate'] >= 0:
            raise ValueError(f'parameter camera_rate must be >= 0, got {p["camera_rate"]!r}')
        if p['camera_width'] < 1 or p['camera_height'] < 1:
            raise ValueError('parameters camera_width and camera_height must be >= 1')
        if p['control_mode'] not in CONTROL_MODES:
            raise ValueError(f'parameter control_mode must be one of {CONTROL_MODES}, got '
                             f'{p["control_mode"]!r}')
        self.params = p
        self.sim = FrankaSim(task, 1.0 / p['physics_rate'])
        self.guard = EffortGuard(self.sim.effort_limits, p['effort_hold'])
        self.gripper_rejected = 0   # /gripper/command messages refused (NaN, width, speed)
        self.impedance: Optional[ImpedanceLoop] = None
        if p['control_mode'] == 'impedance':
            values = {n: self.get_parameter(f'impedance.{n}').value
                      for n in IMPEDANCE_PARAMETERS}
            try:
                self.impedance = ImpedanceLoop(self.sim, ImpedanceParams.from_dict(values))
            except ValueError as exc:
                raise ValueError(f'parameters impedance.*: {exc}') from None
        self.effort_ignored = 0
        self._lock = threading.Lock()
        self._time_offset = 0.0
        seed = int(p['seed'])
        self._rng = np.random.default_rng(None if seed < 0 else seed)
        self._reset_sim()
        self.episode = 0

        self._pub_joint = self.create_publisher(JointState, '/joint_states', SENSOR)
        self._pub_measured = self.create_publisher(
            JointState, f'{BROADCASTER}/measured_joint_states', SENSOR)
        self._pub_pose = self.create_publisher(
            PoseStamped, f'{BROADCASTER}/current_pose', SENSOR)
        self._pub_wrench = self.create_publisher(
            WrenchStamped, f'{BROADCASTER}/external_wrench_in_base_frame', SENSOR)
        self._pub_object = self.create_publisher(PoseStamped, '/sim/object_pose', SENSOR)
        self._pub_clock = self.create_publisher(Clock, '/clock', SENSOR)
        self._pub_diag = self.create_publisher(DiagnosticArray, '/diagnostics', RELIABLE)
        self._pub_description = self.create_publisher(String, '/robot_description', LATCHED)
        self._pub_images = {}
        self._pub_infos = {}
        if p['camera_rate'] > 0:
            for name in CAMERA_NAMES:
                self._pub_images[name] = self.create_publisher(
                    Image, f'/cameras/{name}/image_raw', SENSOR)
                self._pub_infos[name] = self.create_publisher(
                    CameraInfo, f'/cameras/{name}/camera_info', SENSOR)
        self.create_subscription(Float64MultiArray, '/effort_controller/commands',
                                 self._on_effort, RELIABLE)
        if self.impedance is not None:
            self.create_subscription(PoseStamped, p['equilibrium_pose_topic'],
                                     self._on_equilibrium_pose, RELIABLE)
        self.create_subscription(GripperCommand, '/gripper/command', self._on_gripper, RELIABLE)
        self.create_service(ResetEpisode, '/sim/reset_episode', self._on_reset)
        self.create_service(GetSuccess, '/sim/get_success', self._on_get_success)
        self.create_timer(1.0 / p['diagnostics_rate'], self._publish_diagnostics)
        self._pub_description.publish(String(data=description.sim_urdf()))

        self._rtf_window = (time.monotonic(), self.clock_seconds())
        self.achieved_rtf = 0.0
        self.physics_steps = 0
        self.velocity_limit_steps = 0
        self._running = True
        self._thread_error: Optional[str] = None
        self.frames_dropped = 0
        self._frame_wanted = threading.Event()
        self._snapshot = mujoco.MjData(self.sim.model)
        self._snapshot_stamp = 0.0
        self._threads = [threading.Thread(target=self._physics_loop, name='physics',
                                          daemon=True)]
        if self._pub_images:
            self._threads.append(threading.Thread(target=self._camera_loop, name='cameras',
                                                  daemon=True))
        command = ('joint torques on /effort_controller/commands' if self.impedance is None
                   else f'impedance law in the sim, equilibrium poses on '
                   f'{p["equilibrium_pose_topic"]} (/effort_controller/commands ignored)')
        self.get_logger().info(
            f'{p["task"]}: physics {p["physics_rate"]:g} Hz, real-time factor '
            f'{p["real_time_factor"]:g}, states {p["state_rate"]:g} Hz, cameras '
            f'{p["camera_rate"]:g} Hz {p["camera_width"]}x{p["camera_height"]}; '
            f'control_mode {p["control_mode"]}: {command}')
        # Last: a Ctrl-C that interrupts the constructor (rclpy raises KeyboardInterrupt in the
        # main thread) leaves no node to destroy_node(), so no thread may outlive it: a daemon
        # thread still inside MuJoCo at interpreter exit crashes the process (SIGSEGV).
        try:
            for thread in self._threads:
                thread.start()
        except BaseException:
            self._stop_threads()
            raise

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        names = [param.name for param in parameters if param.name in PARAMETERS]
        if names:
            return SetParametersResult(
                successful=False, reason=f'{names} are read at start; restart the sim node')
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ time
    def clock_seconds(self) -> float:
        """Return the simulated time since the node started, s (monotonic across resets)."""
        return self._time_offset + self.sim.time

    def _reset_sim(self, keep_objects: bool = False) -> None:
        """Sample a new episode; in impedance mode hold its start pose (lock held)."""
        self.sim.reset(self._rng, keep_objects=keep_objects)
        if self.impedance is not None:
            self.impedance.activate()

    # ------------------------------------------------------------------ commands
    def _on_effort(self, msg: Float64MultiArray) -> None:
        if self.impedance is not None:
            self.effort_ignored += 1
            self.get_logger().warning(
                'ignoring /effort_controller/commands: control_mode is impedance (send '
                f'equilibrium poses to {self.params["equilibrium_pose_topic"]})',
                throttle_duration_sec=5.0)
            return
        error = self.guard.submit(msg.data, self.clock_seconds())
        if error is not None:
            self.get_logger().error(f'rejected /effort_controller/commands: {error}',
                                    throttle_duration_sec=1.0)

    def _on_equilibrium_pose(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        with self._lock:
            error = self.impedance.submit((p.x, p.y, p.z), (q.x, q.y, q.z, q.w),
                                          msg.header.frame_id)
        if error is not None:
            self.get_logger().error(
                f'rejected {self.params["equilibrium_pose_topic"]}: {error}; holding the last '
                'target', throttle_duration_sec=1.0)

    def _on_gripper(self, msg: GripperCommand) -> None:
        width, speed, force = msg.width, msg.speed, msg.force
        limit = 2 * description.FINGER_TRAVEL
        if not all(math.isfinite(v) for v in (width, speed, force)):
            error = f'NaN or inf in width {width}, speed {speed}, force {force}'
        elif not 0.0 <= width <= limit:
            error = f'width {width} m is outside [0, {limit}] m'
        elif speed <= 0.0 or force < 0.0:
            error = f'speed {speed} m/s must be > 0 and force {force} N >= 0'
        else:
            error = None
        if error is not None:
            self.gripper_rejected += 1
            self.get_logger().error(f'rejected /gripper/command: {error}')
            return
        with self._lock:
            grip = min(force, description.GRIPPER_FORCE) if force > 0 else \
                description.GRIPPER_FORCE
            self.sim.model.actuator_forcerange[self.sim.gripper_actuator] = [-grip, grip]
            self.sim.set_gripper(width, speed)

    def _on_reset(self, request: ResetEpisode.Request,
                  response: ResetEpisode.Response) -> ResetEpisode.Response:
        task = self.sim.task
        with self._lock:
            if request.direction:
                if not hasattr(task, 'direction'):
                    response.success = False
                    response.message = (f'direction {request.direction!r}: task {task.name} '
                                        'has no directions')
                    self.get_logger().error(f'reset refused: {response.message}')
                    return response
                try:
                    task.direction = request.direction
                except ValueError as error:
                    response.success = False
                    response.message = str(error)
                    self.get_logger().error(f'reset refused: {response.message}')
                    return response
            if request.seed >= 0:
                self._rng = np.random.default_rng(request.seed)
            self._time_offset += self.sim.time
            self.guard.clear()
            self._reset_sim(keep_objects=request.keep_objects)
            self.episode += 1
        response.success = True
        response.message = (f'episode {self.episode} (seed {request.seed}'
                            + (', objects kept' if request.keep_objects else '')
                            + (f', {task.direction}' if hasattr(task, 'direction') else '')
                            + ')')
        self.get_logger().info(f'reset: {response.message}')
        return response

    def _on_get_success(self, request: GetSuccess.Request,
                        response: GetSuccess.Response) -> GetSuccess.Response:
        check = getattr(self.sim.task, 'object_in_reach', None)
        with self._lock:
            response.header.stamp = _stamp(self.clock_seconds())
            response.success, response.message = self.sim.success()
            response.object_in_reach = True if check is None else bool(check(self.sim))
        return response

    # ------------------------------------------------------------------ physics thread
    def _physics_loop(self) -> None:
        try:
            self._run_physics()
        except Exception as exc:  # noqa: B902 - reported, then the node stops stepping
            if not self.context.ok():
                return  # Ctrl-C shut the context down before destroy_node stopped this thread
            self._thread_error = f'{type(exc).__name__}: {exc}'
            self.get_logger().fatal(f'physics thread stopped: {self._thread_error}')

    def _run_physics(self) -> None:
        p, sim = self.params, self.sim
        dt = sim.physics_dt
        impedance = self.impedance
        pacer = Pacer(dt, p['real_time_factor'])
        state_period = 1.0 / p['state_rate']
        velocity_limits = description.ARM.velocity_limits
        camera_period = 1.0 / p['camera_rate'] if self._pub_images else math.inf
        viewer = self._open_viewer() if not p['headless'] else None
        next_state = self.clock_seconds()
        next_camera = next_state if self._pub_images else math.inf
        while self._running:
            due = pacer.due()
            if due == 0:
                time.sleep(min(pacer.sleep_time(), 0.005))
                continue
            with self._lock:
                for _ in range(due):
                    now = self.clock_seconds()
                    sim.step(self.guard.torque(now) if impedance is None
                             else impedance.torque())
                    if np.any(np.abs(sim.data.qvel[sim.arm_dof]) > velocity_limits):
                        self.velocity_limit_steps += 1
                    now += dt
                    if now >= next_state - 1e-9:
                        self._publish_state(now)
                        next_state = max(next_state + state_period, now)
                    if now >= next_camera - 1e-9:
                        self._request_frame(now)
                        next_camera = max(next_camera + camera_period, now)
                self.physics_steps += due
            pacer.done(due)
            if viewer is not None and viewer.is_running():
                viewer.sync()

    # ------------------------------------------------------------------ camera thread
    def _request_frame(self, now: float) -> None:
        """Snapshot the state for the camera thread (physics thread, lock held)."""
        if self._frame_wanted.is_set():
            self.frames_dropped += 1  # the previous frame is still being rendered
            return
        mujoco.mj_copyData(self._snapshot, self.sim.model, self.sim.data)
        self._snapshot_stamp = now
        self._frame_wanted.set()

    def _camera_loop(self) -> None:
        """Render and publish the requested frames, in parallel with the physics."""
        p, model = self.params, self.sim.model
        try:
            from serl_sim.rendering import CameraRenderer  # GL context lives in this thread
            renderer = CameraRenderer(model, p['camera_height'], p['camera_width'])
            infos = {n: self._camera_info(renderer, n) for n in CAMERA_NAMES}
            while self._running:
                if not self._frame_wanted.wait(timeout=0.1):
                    continue
                snapshot, now = self._snapshot, self._snapshot_stamp
                mujoco.mj_kinematics(model, snapshot)  # poses after the last step
                mujoco.mj_camlight(model, snapshot)
                self._publish_cameras(renderer, infos, snapshot, now)
                self._frame_wanted.clear()
            renderer.close()
        except Exception as exc:  # noqa: B902 - reported; physics and states go on
            if not self.context.ok():
                return  # Ctrl-C shut the context down before destroy_node stopped this thread
            self._thread_error = f'camera thread: {type(exc).__name__}: {exc}'
            self.get_logger().error(self._thread_error)

    def _open_viewer(self):
        try:
            import mujoco.viewer
            return mujoco.viewer.launch_passive(self.sim.model, self.sim.data)
        except Exception as exc:  # noqa: B902 - no display: keep running headless
            self.get_logger().error(f'cannot open the MuJoCo viewer ({exc}); running headless')
            return None

    def _publish_state(self, now: float) -> None:
        sim = self.sim
        stamp = _stamp(now)
        joint = JointState()
        joint.header.stamp = stamp
        joint.name = list(JOINT_NAMES)
        joint.position = array.array('d', sim.joint_positions().tobytes())
        joint.velocity = array.array('d', sim.joint_velocities().tobytes())
        joint.effort = array.array('d', sim.joint_efforts().tobytes())
        self._pub_joint.publish(joint)
        measured = JointState()
        measured.header.stamp = stamp
        measured.name = list(JOINT_NAMES[:7])
        measured.position = joint.position[:7]
        measured.velocity = joint.velocity[:7]
        measured.effort = joint.effort[:7]
        self._pub_measured.publish(measured)
        self._pub_pose.publish(self._pose(stamp, sim.tcp_position(), sim.tcp_quaternion()))
        wrench = WrenchStamped()
        wrench.header.stamp = stamp
        wrench.header.frame_id = description.BASE_LINK
        f = sim.external_wrench()
        wrench.wrench.force.x, wrench.wrench.force.y, wrench.wrench.force.z = f[:3].tolist()
        wrench.wrench.torque.x, wrench.wrench.torque.y, wrench.wrench.torque.z = f[3:].tolist()
        self._pub_wrench.publish(wrench)
        self._pub_object.publish(self._pose(stamp, *sim.object_pose()))
        self._pub_clock.publish(Clock(clock=stamp))

    @staticmethod
    def _pose(stamp: Time, position: np.ndarray, quaternion: np.ndarray) -> PoseStamped:
        msg = PoseStamped()
        msg.header.stamp = stamp
        msg.header.frame_id = description.BASE_LINK
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = position.tolist()
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = quaternion.tolist()
        return msg

    def _camera_info(self, renderer, name: str) -> CameraInfo:
        fx, fy, cx, cy = renderer.intrinsics(name)
        info = CameraInfo()
        info.header.frame_id = f'{name}_camera_optical_frame'
        info.width, info.height = renderer.width, renderer.height
        info.distortion_model = 'plumb_bob'
        info.d = [0.0] * 5
        info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    def _publish_cameras(self, renderer, infos, data, now: float) -> None:
        stamp = _stamp(now)
        for name in CAMERA_NAMES:
            pixels = renderer.render(data, name)
            image = Image()
            image.header.stamp = stamp
            image.header.frame_id = f'{name}_camera_optical_frame'
            image.height, image.width = pixels.shape[:2]
            image.encoding = 'rgb8'
            image.is_bigendian = 0
            image.step = pixels.shape[1] * 3
            image.data = pixels.tobytes()
            self._pub_images[name].publish(image)
            info = infos[name]
            info.header.stamp = stamp
            self._pub_infos[name].publish(info)

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        wall, sim_time = time.monotonic(), self.clock_seconds()
        wall0, sim0 = self._rtf_window
        if wall > wall0:
            self.achieved_rtf = (sim_time - sim0) / (wall - wall0)
        self._rtf_window = (wall, sim_time)
        g, imp = self.guard, self.impedance
        status = DiagnosticStatus(name='sim_node: physics and arm commands',
                                  hardware_id='mujoco_fr3')
        if imp is None:
            problems = (f'{g.rejected} effort commands rejected, {g.clipped} clipped'
                        if g.rejected or g.clipped else '')
        else:
            problems = ', '.join(text for count, text in (
                (imp.rejected, f'{imp.rejected} equilibrium poses rejected'),
                (self.effort_ignored, f'{self.effort_ignored} effort commands ignored '
                 '(control_mode impedance)')) if count)
        if self._thread_error is not None:
            status.level, status.message = DiagnosticStatus.ERROR, self._thread_error
        elif problems or self.velocity_limit_steps:
            status.level = DiagnosticStatus.WARN
            velocity = (f'{self.velocity_limit_steps} steps beyond a joint velocity limit'
                        if self.velocity_limit_steps else '')
            status.message = '; '.join(text for text in (problems, velocity) if text)
        else:
            status.level, status.message = DiagnosticStatus.OK, 'running'
        values = {
            'task': self.params['task'], 'episode': self.episode,
            'sim_time': f'{sim_time:.3f}', 'real_time_factor': f'{self.achieved_rtf:.3f}',
            'physics_steps': self.physics_steps, 'control_mode': self.params['control_mode'],
        }
        if imp is None:
            values.update({
                'effort_commands_received': g.received, 'effort_commands_rejected': g.rejected,
                'effort_commands_clipped': g.clipped, 'effort_commands_expired': g.expired})
        else:
            values.update({
                'equilibrium_poses_received': imp.received,
                'equilibrium_poses_rejected': imp.rejected,
                'equilibrium_box_clips': imp.controller.status.box_clips,
                'effort_commands_ignored': self.effort_ignored})
        values.update({'gripper_commands_rejected': self.gripper_rejected,
                       'camera_frames_dropped': self.frames_dropped,
                       'steps_beyond_velocity_limits': self.velocity_limit_steps})
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._pub_diag.publish(msg)

    def _stop_threads(self) -> None:
        self._running = False
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5.0)

    def destroy_node(self) -> None:
        """Stop the physics thread, then release the node."""
        self._stop_threads()
        super().destroy_node()
        if not any(thread.is_alive() for thread in self._threads):
            # Free the MuJoCo objects now, in order (law, then simulation), rather than in the
            # arbitrary order of the garbage left at interpreter exit.
            self.impedance = None
            self._snapshot = None
            self.sim = None


def main(args=None) -> int:
    """Run the sim node (console script ``sim_node``)."""
    # The physics thread and the executor (effort commands at up to 1 kHz) share the GIL; hand
    # it over every 0.5 ms instead of Python's default 5 ms, so state streams stay regular.
    sys.setswitchinterval(0.0005)
    return run_node(SimNode, args)


if __name__ == '__main__':
    sys.exit(main())
