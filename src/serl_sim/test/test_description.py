"""The MJCF and URDF generated from the one description agree with Franka's DH chain."""

import math
import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from serl_sim import description as desc


def _random_configurations(count, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(desc.ARM.lower, desc.ARM.upper, size=(count, 7))


def _dh_tcp(q):
    """Franka's published DH chain, written out independently of the description module."""
    rows = [(0, 0.333, 0), (0, 0, -math.pi / 2), (0, 0.316, math.pi / 2),
            (0.0825, 0, math.pi / 2), (-0.0825, 0.384, -math.pi / 2), (0, 0, math.pi / 2),
            (0.088, 0, math.pi / 2)]
    pose = np.eye(4)
    for (a, d, alpha), theta in zip(rows, q):
        rot_x = np.eye(4)
        rot_x[1:3, 1:3] = [[math.cos(alpha), -math.sin(alpha)],
                           [math.sin(alpha), math.cos(alpha)]]
        trans = np.eye(4)
        trans[:3, 3] = [a, 0, d]
        rot_z = np.eye(4)
        rot_z[:2, :2] = [[math.cos(theta), -math.sin(theta)],
                         [math.sin(theta), math.cos(theta)]]
        pose = pose @ rot_x @ trans @ rot_z
    flange = np.eye(4)
    flange[2, 3] = 0.107
    hand = np.eye(4)
    hand[:3, :3] = Rotation.from_euler('xyz', [0, 0, -math.pi / 4]).as_matrix()
    tcp = np.eye(4)
    tcp[2, 3] = 0.1034
    return pose @ flange @ hand @ tcp


def _angle_between(rot_a, rot_b):
    return Rotation.from_matrix(rot_a.T @ rot_b).magnitude()


def test_mujoco_tcp_matches_dh_chain_at_20_random_configurations():
    model = mujoco.MjModel.from_xml_string(desc.to_mjcf())
    data = mujoco.MjData(model)
    site = model.site(desc.TCP_FRAME).id
    addr = [model.jnt_qposadr[model.joint(n).id] for n in desc.ARM_JOINT_NAMES]
    for q in _random_configurations(20):
        data.qpos[addr] = q
        mujoco.mj_kinematics(model, data)
        expected = _dh_tcp(q)
        assert np.linalg.norm(data.site_xpos[site] - expected[:3, 3]) < 1e-3
        assert _angle_between(data.site_xmat[site].reshape(3, 3), expected[:3, :3]) < 0.01
        # The description's own FK (used by tests elsewhere) agrees too.
        assert np.allclose(desc.forward_kinematics(q)[desc.TCP_FRAME], expected, atol=1e-9)


def _urdf_fk(urdf, q_by_joint, target_link):
    """Chain the URDF joint origins (fixed, revolute about z) from the base to target_link."""
    root = ET.fromstring(urdf)
    by_child = {j.find('child').get('link'): j for j in root.findall('joint')}
    chain = []
    link = target_link
    while link in by_child:
        chain.append(by_child[link])
        link = by_child[link].find('parent').get('link')
    assert link == desc.BASE_LINK
    pose = np.eye(4)
    for joint in reversed(chain):
        origin = joint.find('origin')
        step = np.eye(4)
        step[:3, :3] = Rotation.from_euler(
            'xyz', [float(v) for v in origin.get('rpy').split()]).as_matrix()
        step[:3, 3] = [float(v) for v in origin.get('xyz').split()]
        motion = np.eye(4)
        if joint.get('type') == 'revolute':
            axis = [float(v) for v in joint.find('axis').get('xyz').split()]
            motion[:3, :3] = Rotation.from_rotvec(
                np.array(axis) * q_by_joint[joint.get('name')]).as_matrix()
        pose = pose @ step @ motion
    return pose


def test_urdf_tcp_matches_dh_chain():
    urdf = desc.to_urdf()
    for q in _random_configurations(20, seed=1):
        pose = _urdf_fk(urdf, dict(zip(desc.ARM_JOINT_NAMES, q)), desc.TCP_FRAME)
        expected = _dh_tcp(q)
        assert np.linalg.norm(pose[:3, 3] - expected[:3, 3]) < 1e-3
        assert _angle_between(pose[:3, :3], expected[:3, :3]) < 0.01


def test_limits_are_franka_datasheet_values():
    assert desc.ARM.effort_limits.tolist() == [87, 87, 87, 87, 12, 12, 12]
    model = mujoco.MjModel.from_xml_string(desc.to_mjcf())
    for name, joint in zip(desc.ARM_JOINT_NAMES, desc.ARM.joints):
        assert model.actuator(name).ctrlrange.tolist() == [-joint.effort, joint.effort]
        assert model.joint(name).range.tolist() == pytest.approx([joint.lower, joint.upper])
    for name in desc.FINGER_JOINT_NAMES:
        assert model.joint(name).range.tolist() == pytest.approx([0.0, 0.04])
    root = ET.fromstring(desc.to_urdf())
    limits = {j.get('name'): j.find('limit') for j in root.findall('joint')}
    for joint in desc.ARM.joints:
        assert float(limits[joint.name].get('effort')) == joint.effort
        assert float(limits[joint.name].get('velocity')) == joint.velocity


def test_home_pose_points_tcp_down_above_the_table():
    pose = desc.forward_kinematics(desc.ARM.home)[desc.TCP_FRAME]
    assert np.allclose(pose[:3, 3], [0.4, 0.0, 0.3], atol=1e-4)
    assert _angle_between(pose[:3, :3], np.diag([1.0, -1.0, -1.0])) < 1e-3
    assert np.all(desc.ARM.lower < desc.ARM.home) and np.all(desc.ARM.home < desc.ARM.upper)


def test_checked_in_models_equal_the_generators_output():
    with open(desc.MJCF_PATH, encoding='utf-8') as stream:
        assert stream.read() == desc.to_mjcf(), 'run: python -m serl_sim.description'
    with open(desc.URDF_PATH, encoding='utf-8') as stream:
        assert stream.read() == desc.to_urdf(), 'run: python -m serl_sim.description'
    with open(desc.SIM_URDF_PATH, encoding='utf-8') as stream:
        assert stream.read() == desc.sim_urdf(), 'run: python -m serl_sim.description'


def test_forward_kinematics_rejects_wrong_length():
    with pytest.raises(ValueError, match='shape'):
        desc.forward_kinematics([0.0] * 6)


def test_camera_optical_frames_in_the_urdf_match_the_mujoco_cameras():
    from serl_sim import scene
    from serl_sim.simulation import FrankaSim
    from serl_sim.tasks import PickCubeTask

    urdf = desc.sim_urdf()
    sim = FrankaSim(PickCubeTask())
    q = _random_configurations(1, seed=2)[0]
    sim.set_arm_configuration(q)
    mujoco.mj_forward(sim.model, sim.data)
    for name in scene.CAMERA_NAMES:
        pose = _urdf_fk(urdf, dict(zip(desc.ARM_JOINT_NAMES, q)), f'{name}_camera_optical_frame')
        camera = sim.model.camera(name).id
        # MuJoCo camera axes: x right, y up, z backwards; ROS optical: x right, y down, z ahead.
        expected = sim.data.cam_xmat[camera].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
        assert np.linalg.norm(pose[:3, 3] - sim.data.cam_xpos[camera]) < 1e-3, name
        assert _angle_between(pose[:3, :3], expected) < 0.01, name


def test_urdf_loads_in_a_second_parser_with_the_same_kinematics_and_limits():
    # MuJoCo's URDF importer: an independent reader of the robot_description.
    urdf = desc.sim_urdf().replace(
        '<robot name="fr3">',
        '<robot name="fr3"><mujoco><compiler fusestatic="false"/></mujoco>')
    from_urdf = mujoco.MjModel.from_xml_string(urdf)
    from_mjcf = mujoco.MjModel.from_xml_string(desc.to_mjcf())
    data_u, data_m = mujoco.MjData(from_urdf), mujoco.MjData(from_mjcf)
    for name, joint in zip(desc.ARM_JOINT_NAMES, desc.ARM.joints):
        assert from_urdf.joint(name).range.tolist() == pytest.approx([joint.lower, joint.upper])
    for q in _random_configurations(5, seed=3):
        for model, data in ((from_urdf, data_u), (from_mjcf, data_m)):
            for name, value in zip(desc.ARM_JOINT_NAMES, q):
                data.qpos[model.jnt_qposadr[model.joint(name).id]] = value
            mujoco.mj_kinematics(model, data)
        tcp_u = data_u.body(desc.TCP_FRAME)
        tcp_m = data_m.site(desc.TCP_FRAME)
        assert np.linalg.norm(tcp_u.xpos - tcp_m.xpos) < 1e-4  # files carry 6 digits
        assert _angle_between(tcp_u.xmat.reshape(3, 3), tcp_m.xmat.reshape(3, 3)) < 1e-4
    assert from_urdf.body('fr3_link3').mass[0] == pytest.approx(desc.ARM.joints[2].inertial.mass,
                                                                rel=1e-5)
