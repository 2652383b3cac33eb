"""
The Franka FR3 arm and hand described once, as data; MJCF and URDF are generated from it.

Kinematics are Franka's published modified Denavit-Hartenberg parameters (Craig convention,
Franka "Robot and interface specifications", FR3): the transform from link ``i-1`` to link ``i``
is ``RotX(alpha) TransX(a) TransZ(d) RotZ(q_i)``. Limits are the FR3 datasheet values. Masses,
centres of mass and inertias follow the identified Panda values of Gaz et al., "Dynamic
identification of the Franka Emika Panda robot with retrieval of feasible parameters using
penalty-based optimization", RA-L 2019 (rounded; principal inertias only).

Geometry is simple on purpose: capsules along each link, a box hand, box finger pads.

Both generators read :data:`ARM`, so the MuJoCo model and the ``robot_description`` URDF cannot
disagree. The generated files are checked in under ``serl_sim/models/`` (``fr3.xml``,
``fr3.urdf``); a test proves they equal the generators' output. Regenerate with
``python -m serl_sim.description``.
"""

from dataclasses import dataclass, field
import math
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

Vec3 = Tuple[float, float, float]

#: Frame names of the contract (docs/architecture.md).
BASE_LINK = 'fr3_link0'
TCP_FRAME = 'fr3_hand_tcp'
HAND_LINK = 'fr3_hand'
FLANGE_LINK = 'fr3_link8'
ARM_JOINT_NAMES = tuple(f'fr3_joint{i}' for i in range(1, 8))
FINGER_JOINT_NAMES = ('fr3_finger_joint1', 'fr3_finger_joint2')

#: Hand on the flange: rotation about the flange z axis (rad), Franka Hand mounting.
HAND_YAW = -math.pi / 4
#: TCP offset along the hand's z axis (m).
TCP_OFFSET = 0.1034
#: Finger joint origin along the hand's z axis (m) and per-finger travel (m).
FINGER_OFFSET = 0.0584
FINGER_TRAVEL = 0.04
#: Franka Hand continuous grasping force (N), used as the finger actuator force limit.
GRIPPER_FORCE = 70.0
#: m/s, the fastest the opening between the fingers changes (each finger at half of it): the
#: Franka Hand's top speed for libfranka's move and grasp (frankx's ``Gripper::max_speed``).
#: The fingers' position servo alone moved each at up to 5 m/s: in 33 of 37 fast launches of
#: the cube in 300 reset-free bin-relocation episodes (2026-12-07) a finger whose command had
#: just flipped hit it at 2-5 m/s, flinging it up to 10 cm high; ramped at this speed, no
#: launch above 0.5 m/s in 200. A task's ``gripper_speed`` (pick-cube keeps the servo's).
GRIPPER_SPEED = 0.1


@dataclass(frozen=True)
class Inertial:
    """
    Rigid-body inertia of a link, in the link frame.

    Attributes
    ----------
    mass
        kg.
    com
        centre of mass (m), link frame.
    diag
        principal moments of inertia (kg m^2) about axes parallel to the link frame.

    """

    mass: float
    com: Vec3
    diag: Vec3


@dataclass(frozen=True)
class ArmJoint:
    """
    One revolute arm joint with its child link.

    Attributes
    ----------
    name
        joint name, e.g. ``fr3_joint1``.
    child
        child link name, e.g. ``fr3_link1``.
    a, d, alpha
        modified DH parameters (m, m, rad) from the parent link frame.
    lower, upper
        position limits (rad).
    velocity
        velocity limit (rad/s).
    effort
        torque limit (N m).
    inertial
        child link inertia.
    radius
        capsule radius (m) of the child link geometry.
    armature
        reflected rotor inertia (kg m^2) added on the joint.
    damping
        viscous joint damping (N m s/rad).

    """

    name: str
    child: str
    a: float
    d: float
    alpha: float
    lower: float
    upper: float
    velocity: float
    effort: float
    inertial: Inertial
    radius: float
    armature: float = 0.1
    damping: float = 0.5

    def origin(self) -> Tuple[Vec3, Vec3]:
        """
        Return the child frame origin in the parent frame at q = 0.

        Returns
        -------
            ``(xyz, rpy)``: translation (m) and roll-pitch-yaw (rad) of ``RotX(alpha) TransX(a)
            TransZ(d)``, i.e. ``xyz = (a, -d sin(alpha), d cos(alpha))``, ``rpy = (alpha, 0, 0)``.

        """
        xyz = (self.a, -self.d * math.sin(self.alpha), self.d * math.cos(self.alpha))
        return _clean(xyz), (self.alpha, 0.0, 0.0)


@dataclass(frozen=True)
class ArmDescription:
    """
    The FR3 arm, flange, hand, TCP and fingers.

    Attributes
    ----------
    joints
        the seven arm joints, base to flange.
    flange_d
        flange offset along link 7's z axis (m) (the DH row "flange": a=0, d=0.107).
    base_inertial
        inertia of ``fr3_link0``.
    hand_inertial
        inertia of the hand (frame ``fr3_hand``).
    finger_inertial
        inertia of each finger (its own frame).
    home
        the reset joint configuration (rad): TCP at (0.4, 0, 0.3) m in ``fr3_link0``,
        pointing down (TCP orientation quaternion xyzw (1, 0, 0, 0)).

    """

    joints: Tuple[ArmJoint, ...]
    flange_d: float
    base_inertial: Inertial
    hand_inertial: Inertial
    finger_inertial: Inertial
    home: Tuple[float, ...] = field(default=())

    @property
    def lower(self) -> np.ndarray:
        """Joint position lower limits (7,), rad."""
        return np.array([j.lower for j in self.joints])

    @property
    def upper(self) -> np.ndarray:
        """Joint position upper limits (7,), rad."""
        return np.array([j.upper for j in self.joints])

    @property
    def velocity_limits(self) -> np.ndarray:
        """Joint velocity limits (7,), rad/s."""
        return np.array([j.velocity for j in self.joints])

    @property
    def effort_limits(self) -> np.ndarray:
        """Joint torque limits (7,), N m."""
        return np.array([j.effort for j in self.joints])


def _clean(values: Sequence[float]) -> Vec3:
    """Round away floating-point dust (|x| < 1e-12 -> 0) so generated files stay readable."""
    return tuple(0.0 if abs(v) < 1e-12 else float(v) for v in values)


_PI2 = math.pi / 2

#: The FR3 description. Limits: FR3 datasheet (position, velocity, torque).
ARM = ArmDescription(
    joints=(
        ArmJoint('fr3_joint1', 'fr3_link1', 0.0, 0.333, 0.0, -2.7437, 2.7437, 2.62, 87.0,
                 Inertial(4.970684, (0.003875, 0.002081, -0.04762), (0.7034, 0.7066, 0.0091)),
                 radius=0.06),
        ArmJoint('fr3_joint2', 'fr3_link2', 0.0, 0.0, -_PI2, -1.7837, 1.7837, 2.62, 87.0,
                 Inertial(0.646926, (-0.003141, -0.02872, 0.003495), (0.0080, 0.0281, 0.0260)),
                 radius=0.06),
        ArmJoint('fr3_joint3', 'fr3_link3', 0.0, 0.316, _PI2, -2.9007, 2.9007, 2.62, 87.0,
                 Inertial(3.228604, (0.027518, 0.039252, -0.066502), (0.0372, 0.0361, 0.0108)),
                 radius=0.06),
        ArmJoint('fr3_joint4', 'fr3_link4', 0.0825, 0.0, _PI2, -3.0421, -0.1518, 2.62, 87.0,
                 Inertial(3.587895, (-0.05317, 0.104419, 0.027454), (0.0259, 0.0196, 0.0283)),
                 radius=0.06),
        ArmJoint('fr3_joint5', 'fr3_link5', -0.0825, 0.384, -_PI2, -2.8065, 2.8065, 5.26, 12.0,
                 Inertial(1.225946, (-0.011953, 0.041065, -0.038437), (0.0355, 0.0294, 0.0086)),
                 radius=0.055, armature=0.05, damping=0.2),
        ArmJoint('fr3_joint6', 'fr3_link6', 0.0, 0.0, _PI2, 0.5445, 4.5169, 4.18, 12.0,
                 Inertial(1.666555, (0.060149, -0.014117, -0.010517), (0.0020, 0.0043, 0.0054)),
                 radius=0.05, armature=0.05, damping=0.2),
        ArmJoint('fr3_joint7', 'fr3_link7', 0.088, 0.0, _PI2, -3.0159, 3.0159, 5.26, 12.0,
                 Inertial(0.735522, (0.010517, -0.004252, 0.061597), (0.0125, 0.0100, 0.0048)),
                 radius=0.045, armature=0.05, damping=0.2),
    ),
    flange_d=0.107,
    base_inertial=Inertial(0.629769, (-0.041018, -0.00014, 0.049974), (0.0032, 0.0043, 0.0044)),
    hand_inertial=Inertial(0.73, (-0.01, 0.0, 0.03), (0.0010, 0.0025, 0.0017)),
    finger_inertial=Inertial(0.015, (0.0, 0.0, 0.03), (2.4e-6, 2.4e-6, 1.0e-6)),
    home=(0.0, -0.418615, 0.0, -2.578754, 0.0, 2.160139, math.pi / 4),
)


def dh_transform(a: float, d: float, alpha: float, theta: float) -> np.ndarray:
    """
    Modified-DH link transform ``RotX(alpha) TransX(a) TransZ(d) RotZ(theta)``.

    Source: J. J. Craig, Introduction to Robotics, eq. 3.6; Franka's FR3 DH table uses it.

    Returns
    -------
        (4, 4) float64 homogeneous transform from the parent link frame to the child.

    """
    ca, sa, ct, st = math.cos(alpha), math.sin(alpha), math.cos(theta), math.sin(theta)
    return np.array([
        [ct, -st, 0.0, a],
        [st * ca, ct * ca, -sa, -d * sa],
        [st * sa, ct * sa, ca, d * ca],
        [0.0, 0.0, 0.0, 1.0],
    ])


def _rotz(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    out = np.eye(4)
    out[:2, :2] = [[c, -s], [s, c]]
    return out


def _transz(dist: float) -> np.ndarray:
    out = np.eye(4)
    out[2, 3] = dist
    return out


def forward_kinematics(q: Sequence[float], arm: ArmDescription = ARM) -> Dict[str, np.ndarray]:
    """
    Frames of the arm from the DH chain alone (no MuJoCo), in ``fr3_link0``.

    Parameters
    ----------
    q
        (7,) joint positions, rad.
    arm
        the description.

    Returns
    -------
        Dict of (4, 4) float64 transforms: ``fr3_link1`` .. ``fr3_link7``, ``fr3_link8``
        (flange), ``fr3_hand`` and ``fr3_hand_tcp``.

    Raises
    ------
        ValueError: ``q`` does not have 7 entries.

    """
    q = np.asarray(q, dtype=float)
    if q.shape != (len(arm.joints),):
        raise ValueError(f'q must have shape ({len(arm.joints)},), got {q.shape}')
    frames = {}
    pose = np.eye(4)
    for joint, angle in zip(arm.joints, q):
        pose = pose @ dh_transform(joint.a, joint.d, joint.alpha, angle)
        frames[joint.child] = pose
    pose = pose @ _transz(arm.flange_d)
    frames[FLANGE_LINK] = pose
    pose = pose @ _rotz(HAND_YAW)
    frames[HAND_LINK] = pose
    frames[TCP_FRAME] = pose @ _transz(TCP_OFFSET)
    return frames


# ------------------------------------------------------------------------------------------
# Shared formatting helpers.

def _fmt(values: Sequence[float]) -> str:
    return ' '.join(f'{v:.6g}' for v in values)


def _quat_wxyz_from_rpy(rpy: Vec3) -> Tuple[float, float, float, float]:
    """Quaternion (w, x, y, z) of extrinsic roll-pitch-yaw (URDF convention)."""
    r, p, y = (v / 2 for v in rpy)
    cr, sr, cp, sp, cy, sy = (math.cos(r), math.sin(r), math.cos(p), math.sin(p),
                              math.cos(y), math.sin(y))
    return _clean((cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy,
                   cr * sp * cy + sr * cp * sy, cr * cp * sy - sr * sp * cy))


def _link_segment(arm: ArmDescription, link_number: int) -> Tuple[Vec3, Vec3]:
    """
    Capsule end points (m) of link ``link_number`` (1..7) in its own frame.

    The capsule spans from the link origin to the next frame's origin. Links 1 and 5 have a
    coincident next origin (d = 0 in the next DH row), so their capsule runs down their own
    z axis instead, covering the physical shoulder and wrist housings.
    """
    if link_number < len(arm.joints):
        end = arm.joints[link_number].origin()[0]
    else:
        end = (0.0, 0.0, arm.flange_d)
    if max(abs(v) for v in end) < 1e-9:
        length = 0.19 if link_number == 1 else 0.12
        return (0.0, 0.0, -length), (0.0, 0.0, 0.0)
    return (0.0, 0.0, 0.0), end


# Collision filtering: robot geoms (contype 2) never touch each other; they touch the world
# and task objects (contype 1, conaffinity 3).
ROBOT_CONTYPE, ROBOT_CONAFFINITY = 2, 1
WORLD_CONTYPE, WORLD_CONAFFINITY = 1, 3

_HAND_BOX = (0.025, 0.09, 0.03)      # half sizes (m) of the hand body, centred at z=0.03
_PAD_BOX = (0.01, 0.006, 0.02)       # half sizes (m) of a finger pad, centred at z=0.03


def _inertial_mjcf(inertial: Inertial, indent: str) -> str:
    return (f'{indent}<inertial pos="{_fmt(inertial.com)}" mass="{inertial.mass:.6g}" '
            f'diaginertia="{_fmt(inertial.diag)}"/>\n')


def to_mjcf(*, model_name: str = 'fr3', timestep: float = 0.002, gravcomp: bool = True,
            base_pos: Vec3 = (0.0, 0.0, 0.0), asset: str = '', worldbody: str = '',
            extra: str = '', hand_children: str = '', arm: ArmDescription = ARM) -> str:
    """
    Generate the MJCF of the arm, optionally inside a scene.

    The model has torque actuators ``fr3_joint1`` .. ``fr3_joint7`` (``ctrlrange`` = torque
    limits, N m), and one position actuator ``fr3_gripper`` whose control is the width of ONE
    finger (0 .. 0.04 m); the two fingers are coupled by an equality. With ``gravcomp`` the
    arm bodies carry ``gravcomp="1"``: MuJoCo applies their gravity compensation as a passive
    force, as the FR3 firmware does, so effort commands exclude gravity (as on the real arm).

    Parameters
    ----------
    model_name
        MJCF model name.
    timestep
        physics timestep (s).
    gravcomp
        compensate the robot's gravity (True mirrors the FR3).
    base_pos
        position (m) of ``fr3_link0`` in the world frame.
    asset
        MJCF fragment inserted in ``<asset>`` (textures, materials).
    worldbody
        MJCF fragment inserted in ``<worldbody>`` (table, objects, cameras, lights).
    extra
        MJCF fragment inserted after ``<actuator>`` (e.g. ``<sensor>``, ``<keyframe>``).
    hand_children
        MJCF fragment inserted inside the ``fr3_hand`` body (wrist camera).
    arm
        the description.

    Returns
    -------
        The MJCF document as a string.

    """
    gc = ' gravcomp="1"' if gravcomp else ''
    rc = f'contype="{ROBOT_CONTYPE}" conaffinity="{ROBOT_CONAFFINITY}"'
    lines = [f'<mujoco model="{model_name}">\n',
             '  <compiler angle="radian" autolimits="true"/>\n',
             f'  <option timestep="{timestep:.6g}" integrator="implicitfast"/>\n',
             '  <default>\n',
             '    <geom solref="0.005 1" solimp="0.95 0.99 0.001" friction="1 0.005 0.0001"/>\n',
             '  </default>\n',
             '  <asset>\n',
             '    <material name="fr3_white" rgba="0.95 0.95 0.95 1"/>\n',
             '    <material name="fr3_dark" rgba="0.2 0.2 0.2 1"/>\n',
             asset,
             '  </asset>\n',
             '  <worldbody>\n',
             worldbody,
             f'    <body name="{BASE_LINK}" pos="{_fmt(base_pos)}">\n',
             _inertial_mjcf(arm.base_inertial, '      '),
             f'      <geom name="{BASE_LINK}_geom" type="capsule" size="0.07" '
             f'fromto="0 0 0 0 0 0.14" material="fr3_white" {rc}/>\n']
    indent = '      '
    for index, joint in enumerate(arm.joints):
        xyz, rpy = joint.origin()
        quat = _quat_wxyz_from_rpy(rpy)
        start, end = _link_segment(arm, index + 1)
        lines += [
            f'{indent}<body name="{joint.child}" pos="{_fmt(xyz)}" quat="{_fmt(quat)}"{gc}>\n',
            _inertial_mjcf(joint.inertial, indent + '  '),
            f'{indent}  <joint name="{joint.name}" axis="0 0 1" '
            f'range="{joint.lower:.6g} {joint.upper:.6g}" armature="{joint.armature:.6g}" '
            f'damping="{joint.damping:.6g}"/>\n',
            f'{indent}  <geom name="{joint.child}_geom" type="capsule" '
            f'size="{joint.radius:.6g}" fromto="{_fmt(start)} {_fmt(end)}" material="fr3_white" '
            f'{rc}/>\n',
        ]
        indent += '  '
    hq = _quat_wxyz_from_rpy((0.0, 0.0, HAND_YAW))
    fi = arm.finger_inertial
    pad_z = 0.03
    lines += [
        f'{indent}<site name="{FLANGE_LINK}" pos="0 0 {arm.flange_d:.6g}"/>\n',
        f'{indent}<body name="{HAND_LINK}" pos="0 0 {arm.flange_d:.6g}" quat="{_fmt(hq)}"{gc}>\n',
        _inertial_mjcf(arm.hand_inertial, indent + '  '),
        f'{indent}  <geom name="{HAND_LINK}_geom" type="box" size="{_fmt(_HAND_BOX)}" '
        f'pos="0 0 0.03" material="fr3_white" {rc}/>\n',
        f'{indent}  <site name="{TCP_FRAME}" pos="0 0 {TCP_OFFSET:.6g}" size="0.005" '
        f'rgba="1 0 0 1" group="4"/>\n',
        hand_children,
    ]
    for joint_name, side in zip(FINGER_JOINT_NAMES, (1.0, -1.0)):
        body = 'fr3_leftfinger' if side > 0 else 'fr3_rightfinger'
        lines += [
            f'{indent}  <body name="{body}" pos="0 0 {FINGER_OFFSET:.6g}"{gc}>\n',
            _inertial_mjcf(fi, indent + '    '),
            f'{indent}    <joint name="{joint_name}" type="slide" axis="0 {side:g} 0" '
            f'range="0 {FINGER_TRAVEL:.6g}" armature="0.01" damping="2"/>\n',
            f'{indent}    <geom name="{body}_pad" type="box" size="{_fmt(_PAD_BOX)}" '
            f'pos="0 {side * _PAD_BOX[1]:.6g} {pad_z:.6g}" material="fr3_dark" '
            f'friction="1.5 0.01 0.001" condim="4" priority="1" {rc}/>\n',
            f'{indent}  </body>\n',
        ]
    lines.append(f'{indent}</body>\n')
    for index in range(len(arm.joints), -1, -1):
        lines.append('  ' * (index + 2) + '</body>\n')
    j1, j2 = FINGER_JOINT_NAMES
    lines += [
        '  </worldbody>\n',
        '  <contact>\n',
        f'    <exclude body1="{BASE_LINK}" body2="fr3_link1"/>\n',
        '  </contact>\n',
        '  <tendon>\n',
        f'    <fixed name="fr3_finger_split"><joint joint="{j1}" coef="0.5"/>'
        f'<joint joint="{j2}" coef="0.5"/></fixed>\n',
        '  </tendon>\n',
        '  <equality>\n',
        f'    <joint joint1="{j1}" joint2="{j2}" solref="0.005 1" solimp="0.95 0.99 0.001"/>\n',
        '  </equality>\n',
        '  <actuator>\n',
    ]
    for joint in arm.joints:
        lines.append(f'    <motor name="{joint.name}" joint="{joint.name}" '
                     f'ctrlrange="{-joint.effort:.6g} {joint.effort:.6g}"/>\n')
    lines += [
        '    <position name="fr3_gripper" tendon="fr3_finger_split" '
        f'ctrlrange="0 {FINGER_TRAVEL:.6g}" kp="10000" dampratio="1" '
        f'forcerange="{-GRIPPER_FORCE:.6g} {GRIPPER_FORCE:.6g}"/>\n',
        '  </actuator>\n',
        extra,
        '</mujoco>\n',
    ]
    return ''.join(lines)


def _urdf_inertial(inertial: Inertial) -> str:
    ixx, iyy, izz = inertial.diag
    return (f'    <inertial>\n'
            f'      <origin xyz="{_fmt(inertial.com)}" rpy="0 0 0"/>\n'
            f'      <mass value="{inertial.mass:.6g}"/>\n'
            f'      <inertia ixx="{ixx:.6g}" ixy="0" ixz="0" iyy="{iyy:.6g}" iyz="0" '
            f'izz="{izz:.6g}"/>\n'
            f'    </inertial>\n')


def _urdf_segment(start: Vec3, end: Vec3, radius: float, material: str) -> str:
    """Return a cylinder from ``start`` to ``end`` with end spheres (a capsule in URDF)."""
    p0, p1 = np.array(start), np.array(end)
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    out = ''
    if length > 1e-9:
        u = axis / length
        pitch = math.acos(max(-1.0, min(1.0, u[2])))
        yaw = math.atan2(u[1], u[0])
        mid = _clean((p0 + p1) / 2)
        shape = f'<cylinder radius="{radius:.6g}" length="{length:.6g}"/>'
        origin = f'<origin xyz="{_fmt(mid)}" rpy="0 {pitch:.6g} {yaw:.6g}"/>'
        for tag in ('visual', 'collision'):
            extra = f'<material name="{material}"/>' if tag == 'visual' else ''
            out += f'    <{tag}>{origin}<geometry>{shape}</geometry>{extra}</{tag}>\n'
    for point in (p0, p1):
        origin = f'<origin xyz="{_fmt(_clean(point))}" rpy="0 0 0"/>'
        shape = f'<sphere radius="{radius:.6g}"/>'
        for tag in ('visual', 'collision'):
            extra = f'<material name="{material}"/>' if tag == 'visual' else ''
            out += f'    <{tag}>{origin}<geometry>{shape}</geometry>{extra}</{tag}>\n'
    return out


def _urdf_box(size_half: Vec3, xyz: Vec3, material: str) -> str:
    full = tuple(2 * s for s in size_half)
    origin = f'<origin xyz="{_fmt(xyz)}" rpy="0 0 0"/>'
    shape = f'<geometry><box size="{_fmt(full)}"/></geometry>'
    return (f'    <visual>{origin}{shape}<material name="{material}"/></visual>\n'
            f'    <collision>{origin}{shape}</collision>\n')


def to_urdf(arm: ArmDescription = ARM,
            extra_frames: Sequence[Tuple[str, str, Vec3, Vec3]] = ()) -> str:
    """
    Generate the URDF (``robot_description``) of the arm and hand.

    Link and joint names follow franka_description (``fr3_link0`` .. ``fr3_link8``,
    ``fr3_hand``, ``fr3_hand_tcp``, ``fr3_leftfinger``, ``fr3_rightfinger``), so
    robot_state_publisher and rviz show the same tree as on the real FR3.

    Parameters
    ----------
    arm
        the description.
    extra_frames
        ``(link, parent, xyz, rpy)`` fixed frames to add (e.g. camera optical frames), with
        ``xyz`` in m and ``rpy`` in rad relative to ``parent``.

    Returns
    -------
        The URDF document as a string.

    """
    out = ['<?xml version="1.0"?>\n',
           '<robot name="fr3">\n',
           '  <material name="fr3_white"><color rgba="0.95 0.95 0.95 1"/></material>\n',
           '  <material name="fr3_dark"><color rgba="0.2 0.2 0.2 1"/></material>\n',
           f'  <link name="{BASE_LINK}">\n',
           _urdf_inertial(arm.base_inertial),
           _urdf_segment((0.0, 0.0, 0.0), (0.0, 0.0, 0.14), 0.07, 'fr3_white'),
           '  </link>\n']
    parent = BASE_LINK
    for index, joint in enumerate(arm.joints):
        xyz, rpy = joint.origin()
        start, end = _link_segment(arm, index + 1)
        out += [
            f'  <joint name="{joint.name}" type="revolute">\n',
            f'    <origin xyz="{_fmt(xyz)}" rpy="{_fmt(rpy)}"/>\n',
            f'    <parent link="{parent}"/>\n',
            f'    <child link="{joint.child}"/>\n',
            '    <axis xyz="0 0 1"/>\n',
            f'    <limit lower="{joint.lower:.6g}" upper="{joint.upper:.6g}" '
            f'effort="{joint.effort:.6g}" velocity="{joint.velocity:.6g}"/>\n',
            f'    <dynamics damping="{joint.damping:.6g}"/>\n',
            '  </joint>\n',
            f'  <link name="{joint.child}">\n',
            _urdf_inertial(joint.inertial),
            _urdf_segment(start, end, joint.radius, 'fr3_white'),
            '  </link>\n',
        ]
        parent = joint.child
    fixed = [
        (f'{arm.joints[-1].child}_flange', arm.joints[-1].child, FLANGE_LINK,
         (0.0, 0.0, arm.flange_d), (0.0, 0.0, 0.0)),
        ('fr3_hand_joint', FLANGE_LINK, HAND_LINK, (0.0, 0.0, 0.0), (0.0, 0.0, HAND_YAW)),
        ('fr3_hand_tcp_joint', HAND_LINK, TCP_FRAME, (0.0, 0.0, TCP_OFFSET), (0.0, 0.0, 0.0)),
    ]
    for name, par, child, xyz, rpy in fixed:
        out += [f'  <joint name="{name}" type="fixed">\n',
                f'    <origin xyz="{_fmt(xyz)}" rpy="{_fmt(rpy)}"/>\n',
                f'    <parent link="{par}"/>\n',
                f'    <child link="{child}"/>\n',
                '  </joint>\n']
        if child == HAND_LINK:
            out += [f'  <link name="{HAND_LINK}">\n', _urdf_inertial(arm.hand_inertial),
                    _urdf_box(_HAND_BOX, (0.0, 0.0, 0.03), 'fr3_white'), '  </link>\n']
        else:
            out.append(f'  <link name="{child}"/>\n')
    for joint_name, side in zip(FINGER_JOINT_NAMES, (1.0, -1.0)):
        body = 'fr3_leftfinger' if side > 0 else 'fr3_rightfinger'
        out += [f'  <joint name="{joint_name}" type="prismatic">\n',
                f'    <origin xyz="0 0 {FINGER_OFFSET:.6g}" rpy="0 0 0"/>\n',
                f'    <parent link="{HAND_LINK}"/>\n',
                f'    <child link="{body}"/>\n',
                f'    <axis xyz="0 {side:g} 0"/>\n',
                f'    <limit lower="0" upper="{FINGER_TRAVEL:.6g}" effort="{GRIPPER_FORCE:.6g}" '
                'velocity="0.2"/>\n']
        if side < 0:
            out.append(f'    <mimic joint="{FINGER_JOINT_NAMES[0]}"/>\n')
        out += ['  </joint>\n',
                f'  <link name="{body}">\n',
                _urdf_inertial(arm.finger_inertial),
                _urdf_box(_PAD_BOX, (0.0, side * _PAD_BOX[1], 0.03), 'fr3_dark'),
                '  </link>\n']
    for link, parent, xyz, rpy in extra_frames:
        out += [f'  <joint name="{link}_joint" type="fixed">\n',
                f'    <origin xyz="{_fmt(_clean(xyz))}" rpy="{_fmt(_clean(rpy))}"/>\n',
                f'    <parent link="{parent}"/>\n',
                f'    <child link="{link}"/>\n',
                '  </joint>\n',
                f'  <link name="{link}"/>\n']
    out.append('</robot>\n')
    return ''.join(out)


#: Where the checked-in generated files live (installed with the package).
MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models')
MJCF_PATH = os.path.join(MODELS_DIR, 'fr3.xml')
URDF_PATH = os.path.join(MODELS_DIR, 'fr3.urdf')
#: The URDF the sim node publishes: the arm plus the sim cameras' optical frames.
SIM_URDF_PATH = os.path.join(MODELS_DIR, 'fr3_sim.urdf')


def sim_urdf() -> str:
    """Return the URDF of the arm plus the sim cameras' optical frames (``/robot_description``)."""
    from serl_sim.scene import camera_optical_frames  # the scene builds on this module
    return to_urdf(extra_frames=camera_optical_frames())


def write_models(directory: Optional[str] = None) -> Tuple[str, ...]:
    """
    Write ``fr3.xml`` (arm alone), ``fr3.urdf`` and ``fr3_sim.urdf`` into ``directory``.

    Parameters
    ----------
    directory
        target folder; default the package's ``models/``.

    Returns
    -------
        The paths written.

    """
    directory = directory or MODELS_DIR
    os.makedirs(directory, exist_ok=True)
    texts = {'fr3.xml': to_mjcf(), 'fr3.urdf': to_urdf(), 'fr3_sim.urdf': sim_urdf()}
    paths = []
    for name, text in texts.items():
        path = os.path.join(directory, name)
        with open(path, 'w', encoding='utf-8') as stream:
            stream.write(text)
        paths.append(path)
    return tuple(paths)


if __name__ == '__main__':
    for written in write_models():
        print(written)
