"""
Insert a round peg held in the gripper into a hole with 1.5 mm clearance (SERL's peg task).

The peg (2 cm diameter, 8 cm long with a rounded tip, 50 g) is held by friction between the
closed fingers, its top 1 cm above the TCP; 5 cm stick out below the TCP. The hole (2.15 cm
across, 4 cm deep: 1.5 mm diametral clearance) is the inside of a 16-sided tube of wall boxes
standing on the table, whose axis is sampled per episode in x in [0.4, 0.5] m,
y in [-0.1, 0.1] m (``fr3_link0``). The arm starts with the TCP
pointing down, 2-4 cm (xy) off the hole axis and the peg's tip 3-5 cm above the hole. With
such a clearance the peg only goes in when the arm is compliant: the contact forces on the
hole's edge must be able to push it into line, as on SERL's real peg task. The gripper stays
closed (the gripper action is ignored). Success: the peg's tip is >= 2 cm below the hole's
top, inside the hole.
"""

from typing import Tuple

import numpy as np

from serl_sim import description
from serl_sim.tasks.base import DOWN, Task

PEG_HALF = 0.01           # radius of the peg, m
PEG_HALF_LENGTH = 0.04    # half length including the rounded ends, m
PEG_MASS = 0.05
PEG_BELOW_TCP = 0.01      # peg centre below the TCP along the hand axis, m
CLEARANCE = 0.0015        # hole width - peg width, m
HOLE_DEPTH = 0.04
WALL = 0.02               # wall thickness of the tube around the hole, m
SIDES = 16                # sides of the polygonal hole
INSERT_DEPTH = 0.02       # success depth, m
X_RANGE = (0.4, 0.5)
Y_RANGE = (-0.1, 0.1)


class PegInsertTask(Task):
    """Push the peg >= 2 cm into the hole."""

    name = 'peg_insert'
    workspace_min = np.array([0.3, -0.2, 0.0])
    workspace_max = np.array([0.6, 0.2, 0.3])
    gripper_locked = True
    # SERL's peg task limits the pose error tightly (mm), so that contact forces stay small.
    impedance = {
        'translational_clip_neg': (0.005, 0.005, 0.005),
        'translational_clip_pos': (0.005, 0.005, 0.005),
        'filter_coefficient': 0.05,
    }

    def mjcf_asset(self) -> str:
        """Peg and block materials."""
        return ('    <material name="peg_mat" rgba="0.15 0.35 0.85 1"/>\n'
                '    <material name="block_mat" rgba="0.3 0.65 0.3 1"/>\n')

    def mjcf_worldbody(self) -> str:
        """Return the peg (free capsule) and the hole (a mocap body of ``SIDES`` walls)."""
        c, a = description.WORLD_CONTYPE, description.WORLD_CONAFFINITY
        inner = PEG_HALF + CLEARANCE / 2
        half_width = (inner + WALL) * np.tan(np.pi / SIDES)
        z = HOLE_DEPTH / 2
        geoms = ''
        for i in range(SIDES):
            angle = 2.0 * np.pi * i / SIDES
            radius = inner + WALL / 2
            geoms += (f'      <geom name="hole_wall{i}" type="box" '
                      f'pos="{radius * np.cos(angle):.6g} {radius * np.sin(angle):.6g} {z:g}" '
                      f'euler="0 0 {angle:.6g}" size="{WALL / 2:g} {half_width:.6g} {z:g}" '
                      f'material="block_mat" contype="{c}" conaffinity="{a}"/>\n')
        return (f'    <body name="hole_block" mocap="true" pos="0.45 0 0">\n{geoms}'
                '      <site name="hole_top" pos="0 0 {:g}" size="0.003" group="4"/>\n'
                '    </body>\n'
                '    <body name="peg" pos="0.45 0 0.3">\n'
                '      <freejoint name="peg_joint"/>\n'
                f'      <geom name="peg_geom" type="capsule" '
                f'size="{PEG_HALF:g} {PEG_HALF_LENGTH - PEG_HALF:g}" mass="{PEG_MASS:g}" '
                f'material="peg_mat" condim="4" friction="1 0.01 0.001" contype="{c}" '
                f'conaffinity="{a}"/>\n'
                '    </body>\n').format(HOLE_DEPTH)

    def bind(self, sim) -> None:
        """Find the peg, its free joint and the block's mocap slot."""
        model = sim.model
        self._peg = model.body('peg').id
        joint = model.joint('peg_joint').id
        self._qpos = int(model.jnt_qposadr[joint])
        self._dof = int(model.jnt_dofadr[joint])
        self._mocap = int(model.body_mocapid[model.body('hole_block').id])

    def reset(self, sim, rng: np.random.Generator) -> None:
        """Sample the hole; arm above it holding the peg, gripper closed on the peg."""
        hole = np.array([rng.uniform(*X_RANGE), rng.uniform(*Y_RANGE), 0.0])
        angle = rng.uniform(0.0, 2.0 * np.pi)
        offset = rng.uniform(0.02, 0.04) * np.array([np.cos(angle), np.sin(angle)])
        tip_height = rng.uniform(0.03, 0.05)
        sim.data.mocap_pos[self._mocap] = hole
        sim.data.mocap_quat[self._mocap] = [1.0, 0.0, 0.0, 0.0]
        tcp = np.array([hole[0] + offset[0], hole[1] + offset[1],
                        HOLE_DEPTH + tip_height + PEG_BELOW_TCP + PEG_HALF_LENGTH])
        sim.set_tcp_pose(tcp, DOWN)
        peg_centre = sim.tcp_position() - np.array([0.0, 0.0, PEG_BELOW_TCP])
        sim.data.qpos[self._qpos:self._qpos + 7] = [*peg_centre, 1.0, 0.0, 0.0, 0.0]
        sim.data.qvel[self._dof:self._dof + 6] = 0.0
        sim.set_finger_opening(PEG_HALF, target=0.0)

    def hole_top(self, sim) -> np.ndarray:
        """(3,) centre of the hole's opening in ``fr3_link0``, m."""
        return sim.data.mocap_pos[self._mocap] + np.array([0.0, 0.0, HOLE_DEPTH])

    def peg_tip(self, sim) -> np.ndarray:
        """(3,) centre of the peg's lower face in ``fr3_link0``, m."""
        axis = sim.data.xmat[self._peg].reshape(3, 3)[:, 2]
        return sim.data.xpos[self._peg] - PEG_HALF_LENGTH * axis

    def success(self, sim) -> Tuple[bool, str]:
        """Tip >= 2 cm below the hole's top and inside the hole."""
        tip, top = self.peg_tip(sim), self.hole_top(sim)
        depth = top[2] - tip[2]
        lateral = float(np.linalg.norm(tip[:2] - top[:2]))
        ok = bool(depth >= INSERT_DEPTH and lateral < PEG_HALF)
        return ok, f'peg inserted {depth * 1000:.1f} mm, {lateral * 1000:.1f} mm off the axis'

    def object_pose(self, sim) -> Tuple[np.ndarray, np.ndarray]:
        """Pose of the hole's opening (the target), quaternion xyzw."""
        wxyz = sim.data.mocap_quat[self._mocap]
        return self.hole_top(sim), np.array([wxyz[1], wxyz[2], wxyz[3], wxyz[0]])
