"""The 4 cm cube of SERL's pick-cube task, shared by the tasks that handle it."""

from typing import Tuple

import numpy as np

from serl_sim import description
from serl_sim.tasks.base import Task

CUBE_HALF = 0.02
CUBE_MASS = 0.1


class CubeTask(Task):
    """
    A task with one free 4 cm, 0.1 kg cube on the table (franka_sim's pick-cube cube).

    Subclasses sample where it starts (:meth:`place_cube`) and say when they succeed. The
    workspace box and the impedance overrides (a 2 cm error clip, a slow reference filter:
    gentle contact with the cube) are pick-cube's for every cube task.
    """

    workspace_min = np.array([0.2, -0.3, 0.0])
    workspace_max = np.array([0.6, 0.3, 0.5])
    impedance = {
        'translational_clip_neg': (0.02, 0.02, 0.02),
        'translational_clip_pos': (0.02, 0.02, 0.02),
        'filter_coefficient': 0.05,
    }

    def mjcf_asset(self) -> str:
        """Cube material."""
        return '    <material name="cube_mat" rgba="0.85 0.15 0.15 1"/>\n'

    def mjcf_worldbody(self) -> str:
        """Return the cube: a free body with a box geom."""
        c, a = description.WORLD_CONTYPE, description.WORLD_CONAFFINITY
        return (f'    <body name="cube" pos="0.4 0 {CUBE_HALF:g}">\n'
                '      <freejoint name="cube_joint"/>\n'
                f'      <geom name="cube_geom" type="box" size="{CUBE_HALF:g} {CUBE_HALF:g} '
                f'{CUBE_HALF:g}" mass="{CUBE_MASS:g}" material="cube_mat" condim="4" '
                f'friction="1 0.01 0.001" contype="{c}" conaffinity="{a}"/>\n'
                '    </body>\n')

    def bind(self, sim) -> None:
        """Find the cube's body and free joint."""
        model = sim.model
        self._body = model.body('cube').id
        joint = model.joint('cube_joint').id
        self._qpos = int(model.jnt_qposadr[joint])
        self._dof = int(model.jnt_dofadr[joint])

    def place_cube(self, sim, x: float, y: float) -> None:
        """Put the cube flat on the table at (x, y) m, at rest."""
        sim.data.qpos[self._qpos:self._qpos + 7] = [x, y, CUBE_HALF, 1.0, 0.0, 0.0, 0.0]
        sim.data.qvel[self._dof:self._dof + 6] = 0.0

    def cube_position(self, sim) -> np.ndarray:
        """(3,) cube centre in ``fr3_link0``, m."""
        return sim.data.xpos[self._body].copy()

    def cube_speed(self, sim) -> float:
        """Linear speed of the cube, m/s (its free joint's velocity)."""
        return float(np.linalg.norm(sim.data.qvel[self._dof:self._dof + 3]))

    def object_pose(self, sim) -> Tuple[np.ndarray, np.ndarray]:
        """Cube pose (position m, quaternion xyzw)."""
        wxyz = sim.data.xquat[self._body]
        return self.cube_position(sim), np.array([wxyz[1], wxyz[2], wxyz[3], wxyz[0]])
