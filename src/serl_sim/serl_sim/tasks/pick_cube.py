"""
Pick up a 4 cm cube from the table (SERL's PandaPickCube, franka_sim).

The cube (0.1 kg) is placed flat on the table at a position sampled uniformly in
x in [0.3, 0.55] m, y in [-0.25, 0.25] m (``fr3_link0``). SERL's franka_sim samples x from
0.25 m; the FR3 cannot reach x < ~0.3 m at table height with the hand pointing down and the
elbow up (joint 4 meets its -3.04 rad limit), so the range starts at 0.3 m. The arm starts at
``description.ARM.home`` (TCP at (0.4, 0, 0.3) m, pointing down) with the gripper open.
Success: the cube's bottom face is >= 0.1 m above the table (its centre >= 0.12 m) and the
cube lies between the fingers (its centre within 2.5 cm of the TCP and the gripper not closed
on nothing).
"""

from typing import Tuple

import numpy as np

from serl_sim import description
from serl_sim.tasks.cube import CUBE_HALF, CUBE_MASS, CubeTask

__all__ = ['CUBE_HALF', 'CUBE_MASS', 'LIFT_HEIGHT', 'PickCubeTask']
LIFT_HEIGHT = 0.1
X_RANGE = (0.3, 0.55)
Y_RANGE = (-0.25, 0.25)


class PickCubeTask(CubeTask):
    """Lift the cube >= 0.1 m off the table, held between the fingers."""

    name = 'pick_cube'
    #: The fingers' servo speed, as every pick-cube result was measured (the main job, the
    #: agents' comparison, the learning tests): with the real gripper's speed RLPD needed 1.5x
    #: the env steps and BC from 20 demos fell to 0 % (docs/benchmarks.md, session 15).
    gripper_speed = None

    def reset(self, sim, rng: np.random.Generator) -> None:
        """Cube on the table at a sampled (x, y); arm at home, gripper open."""
        x = rng.uniform(*X_RANGE)
        y = rng.uniform(*Y_RANGE)
        self.place_cube(sim, x, y)
        sim.set_arm_configuration(description.ARM.home)
        sim.set_finger_opening(description.FINGER_TRAVEL)

    def success(self, sim) -> Tuple[bool, str]:
        """Lifted >= 0.1 m and between the fingers."""
        cube = self.cube_position(sim)
        lift = cube[2] - CUBE_HALF
        offset = np.linalg.norm(cube - sim.tcp_position())
        width = sim.gripper_width()
        held = offset < 0.025 and width > 2 * CUBE_HALF - 0.01
        ok = bool(lift >= LIFT_HEIGHT and held)
        return ok, (f'cube {lift:.3f} m above table, {offset * 1000:.1f} mm from TCP, '
                    f'gripper width {width * 1000:.1f} mm')
