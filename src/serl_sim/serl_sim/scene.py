"""
The MuJoCo scene around the arm: table, lights, the front and wrist cameras, task objects.

The world frame IS the robot base frame ``fr3_link0`` (REP 103: x forward, y left, z up), and
the table top is the plane z = 0 of that frame: the arm stands on the table, as SERL's real and
simulated robots do. Every position of the tasks is therefore in ``fr3_link0``.
"""

from typing import List, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from serl_sim import description

#: Cameras of every scene. ``front`` looks at the workspace from in front of the robot;
#: ``wrist`` is fixed to the hand and looks along the fingers.
CAMERA_NAMES = ('front', 'wrist')

#: Field of view (deg, vertical) of the cameras.
FRONT_FOVY = 45.0
WRIST_FOVY = 70.0
#: Front camera: position (m) in ``fr3_link0`` and the point it looks at.
FRONT_POSITION = (1.05, 0.0, 0.45)
FRONT_TARGET = (0.4, 0.0, 0.05)
#: Wrist camera in the hand frame: position (m) and MJCF ``xyaxes`` (image right, image up):
#: on the hand's +x side, looking along the hand's +z axis (the fingers), tilted 15 deg
#: towards them.
WRIST_POSITION = (0.06, 0.0, 0.02)
WRIST_XYAXES = (0.0, 1.0, 0.0, 0.966, 0.0, 0.259)


def _xyaxes(position: Sequence[float], target: Sequence[float]) -> str:
    """
    MJCF ``xyaxes`` of a camera at ``position`` looking at ``target`` with z up in the image.

    A MuJoCo camera looks along its -z axis, with x to the image right and y up.
    """
    forward = np.asarray(target, float) - np.asarray(position, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return ' '.join(f'{v:.6g}' for v in np.concatenate((right, up)))


_ASSET = """    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.6 0.7 0.8"
      rgb2="0.2 0.2 0.25" width="64" height="64"/>
    <texture name="table_tex" type="2d" builtin="checker" rgb1="0.55 0.45 0.35"
      rgb2="0.5 0.4 0.3" width="64" height="64"/>
    <material name="table_mat" texture="table_tex" texrepeat="6 6"/>
"""


def build_mjcf(*, task_asset: str = '', task_worldbody: str = '', task_extra: str = '',
               timestep: float = 0.002) -> str:
    """
    Return the full MJCF of the scene: the FR3 from :mod:`serl_sim.description` + world.

    Parameters
    ----------
    task_asset
        MJCF fragment for ``<asset>`` (task materials).
    task_worldbody
        MJCF fragment for ``<worldbody>`` (task objects).
    task_extra
        MJCF fragment after ``<actuator>`` (e.g. ``<sensor>``).
    timestep
        physics timestep (s).

    Returns
    -------
        The MJCF document (str).

    """
    front_pos = FRONT_POSITION
    front_axes = _xyaxes(front_pos, FRONT_TARGET)
    c, a = description.WORLD_CONTYPE, description.WORLD_CONAFFINITY
    worldbody = (
        '    <light name="top" pos="0.4 0 1.5" dir="0 0 -1" diffuse="0.8 0.8 0.8"/>\n'
        '    <light name="front" pos="1.5 0.5 1.0" dir="-1 -0.3 -0.6" diffuse="0.4 0.4 0.4"/>\n'
        '    <geom name="table" type="box" pos="0.35 0 -0.025" size="0.65 0.6 0.025" '
        f'material="table_mat" contype="{c}" conaffinity="{a}"/>\n'
        '    <geom name="floor" type="plane" pos="0 0 -0.75" size="3 3 0.1" rgba="0.3 0.3 0.3 1" '
        'contype="0" conaffinity="0"/>\n'
        f'    <camera name="front" pos="{" ".join(f"{v:g}" for v in front_pos)}" '
        f'xyaxes="{front_axes}" fovy="{FRONT_FOVY:g}"/>\n'
        + task_worldbody)
    hand_children = (
        f'        <camera name="wrist" pos="{" ".join(f"{v:g}" for v in WRIST_POSITION)}" '
        f'xyaxes="{" ".join(f"{v:g}" for v in WRIST_XYAXES)}" fovy="{WRIST_FOVY:g}"/>\n')
    return description.to_mjcf(
        model_name='fr3_scene', timestep=timestep, asset=_ASSET + task_asset,
        worldbody=worldbody, hand_children=hand_children,
        extra='  <visual><global offwidth="640" offheight="480"/>'
              '<quality shadowsize="1024"/></visual>\n' + task_extra)


def _optical_rpy(xyaxes: Sequence[float]) -> Tuple[float, float, float]:
    """Roll-pitch-yaw of the ROS optical frame (x right, y down, z forward) of a camera."""
    right = np.asarray(xyaxes[:3], float)
    up = np.asarray(xyaxes[3:], float)
    right /= np.linalg.norm(right)
    up -= right * (right @ up)
    up /= np.linalg.norm(up)
    forward = np.cross(up, right)  # MuJoCo cameras look along -z = up x right
    rotation = np.column_stack((right, -up, forward))
    return tuple(Rotation.from_matrix(rotation).as_euler('xyz'))


def camera_optical_frames() -> List[Tuple[str, str, Tuple[float, ...], Tuple[float, ...]]]:
    """
    Return the cameras' ROS optical frames as fixed URDF frames.

    Returns
    -------
        ``[(link, parent, xyz, rpy), ...]`` for ``front_camera_optical_frame`` (parent
        ``fr3_link0``) and ``wrist_camera_optical_frame`` (parent ``fr3_hand``), the frame ids
        of the camera images; see :func:`serl_sim.description.to_urdf`.

    """
    front_axes = [float(v) for v in _xyaxes(FRONT_POSITION, FRONT_TARGET).split()]
    return [
        ('front_camera_optical_frame', description.BASE_LINK, FRONT_POSITION,
         _optical_rpy(front_axes)),
        ('wrist_camera_optical_frame', description.HAND_LINK, WRIST_POSITION,
         _optical_rpy(WRIST_XYAXES)),
    ]
