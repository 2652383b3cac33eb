"""
Move a cube from one marked region of the table to the other (SERL's bin relocation, Sec. 4).

SERL's third real-robot task trains a forward and a backward policy that undo each other's
work, so the robot can train for hours with no person resetting the scene (Luo et al. 2024,
arXiv 2401.16013, "Resets"). Here the two bins are two square regions marked on the table,
``A`` (y < 0, the robot's right) and ``B`` (y > 0), each ``REGION_HALF`` x 2 wide, centred
at x = 0.45 m, y = -/+ 0.15 m (``fr3_link0``); the object is the pick-cube task's 4 cm cube.
A tray (6 cm walls, ``TRAY_MIN``..``TRAY_MAX``) surrounds both, as SERL's bins do: a cube
pushed or slid stops at a wall where the arm can still pick it up. Its side walls (y) slope at
``RAMP_ANGLE`` at their foot, as a real bin's do: the fingers open along y, so a cube resting
against a vertical side wall leaves no room for the outer finger (the scripted expert failed at
every such start), while one pushed into a slope slides back down to rest beside its foot,
where the expert picks it up (after 11 of 12 pushes, 2026-12-07). The TCP's workspace box is
the tray's inside, 1 cm from the walls, and below ``TCP_CEILING`` (1 cm under the rim), as
SERL bounds its arm's pose over the bins: the fingers hold a cube's centre at most 2 cm above
the TCP (0.9 cm in the expert's grasp), so a held cube's bottom stays 1 cm (2.1 cm) below the
rim, and the TCP's 0.3 m/s lifts a released cube 5 mm: it can be neither carried nor thrown
over a wall. The hand's underside, 4.3 cm above the TCP, clears the rim while the fingers
grasp a cube anywhere in the regions.

- ``direction='forward'``: the cube starts in A, success = it rests in B; ``'backward'``: the
  reverse. ``direction`` may change between episodes (the env's ``reset(options=...)``).
- Start: the cube flat at a position uniform in the source region, shrunk so that the whole
  cube lies inside it; the TCP at ``START_TCP`` (between the regions, pointing down, at the
  rim's height, where even the closed fingers clear a cube resting below), the gripper open.
  A reset-free episode starts with the arm there too.
- Success ("resting in the target region"): the cube's centre inside the target square, the
  cube on the table (its bottom within 1 cm of it) and still (< 5 cm/s), and released (the
  TCP more than 3 cm from its centre, or the gripper open wider than the cube).
- ``start_area='tray'`` (a constructor argument and reset option; default ``'source'``): the
  cube starts anywhere flat on the tray's floor (``TRAY_START_MIN``..``TRAY_START_MAX``)
  outside the target region, as a reset-free episode finds it wherever the other direction
  left it: demos from there show the policies the starts they meet (``serl_train`` records
  half of each direction's demos so). Evaluation starts in the source region.
- ``object_in_reach``: the cube's centre over the table inside ``REACH_MIN``..``REACH_MAX`` in
  (x, y), and not fallen off the table, and, resting on the table, not within
  ``SIDE_WALL_CLEARANCE`` of a side wall: where the arm can still pick it up; otherwise the
  scene must be reset (a person's intervention on a real robot). Without the slopes the
  scripted expert picked a cube up at |y| = 0.23 m and failed at 0.24 m, at every x; the
  slopes keep a resting cube out of that band. A cube in the air (held, or dropped) is judged
  by where it is over the table: it lands there. (Until 2026-12-07 a cube held above 0.3 m
  counted as out of reach; until later that day the side walls were vertical and a cube against
  one counted as in reach: reset-free training left it there for tens of episodes that
  neither policy could succeed in, docs/forward_backward.md.)
"""

from typing import Tuple

import numpy as np

from serl_sim import description
from serl_sim.tasks.base import DOWN
from serl_sim.tasks.cube import CUBE_HALF, CubeTask

DIRECTIONS = ('forward', 'backward')
#: Where an episode after a full reset starts the cube (the module docstring).
START_AREAS = ('source', 'tray')
#: Centres (x, y) of the regions, m in ``fr3_link0``, and their half width.
REGION_CENTRES = {'A': (0.45, -0.15), 'B': (0.45, 0.15)}
REGION_HALF = 0.06
#: Where the cube can still be picked up: the pick-cube task's reachable box, with margin;
#: z: below the table top (fallen off it) is out of reach, any height above it is not.
REACH_MIN = np.array([0.28, -0.3, -0.01])
REACH_MAX = np.array([0.6, 0.3, np.inf])
#: A tray around both regions (inner x, y bounds, m; wall height and thickness): a cube the
#: policy pushes or slides stops at a wall where the arm can still pick it up, as SERL's bins
#: keep their object (without it, the first forward-backward run without ROS pushed the cube
#: out of reach 30 times in 251 episodes). With 3 cm walls and the TCP free to rise 0.5 m,
#: the policies threw the cube over a wall 48 times in 3 runs; with these walls and ceiling,
#: 7 times. A clear 10 cm tray with a 9 cm ceiling lost none, but no run learned within
#: 30,000 env steps (docs/benchmarks.md, sessions 13 and 14).
TRAY_MIN = (0.30, -0.27)
TRAY_MAX = (0.58, 0.27)
TRAY_WALL_HEIGHT = 0.06
#: m, the highest the TCP goes (the workspace box's top): a held cube stays below the rim.
TCP_CEILING = TRAY_WALL_HEIGHT - 0.01
TRAY_WALL_THICKNESS = 0.02
#: rad, the slope at the foot of each side wall, from the floor up to the rim (a plate
#: ``RAMP_WIDTH`` wide); its surface's friction, smooth as a plastic bin's (the cube's is 1):
#: a cube pushed into it slides back. 30 degrees (friction 0.2) and 45 (0.1) held a cube
#: driven in at 1.5 m/s where the expert failed; 60 degrees did not (module docstring).
RAMP_ANGLE = np.radians(60.0)
RAMP_WIDTH = TRAY_WALL_HEIGHT / np.tan(RAMP_ANGLE)   # 3.5 cm
RAMP_FRICTION = 0.2
#: m, the least room between a resting cube's side and a vertical side wall for a top-down
#: grasp (the fingers open along y; module docstring).
SIDE_WALL_CLEARANCE = 0.015
#: |y| m beyond which a cube resting on the table cannot be picked up.
PICKABLE_Y = TRAY_MAX[1] - CUBE_HALF - SIDE_WALL_CLEARANCE
#: (2,) m, where ``start_area='tray'`` puts the cube's centre: flat on the floor, 5 mm from
#: the near and far walls and from the slopes' foot.
TRAY_START_MIN = np.array([TRAY_MIN[0] + CUBE_HALF + 0.005,
                           TRAY_MIN[1] + RAMP_WIDTH + CUBE_HALF + 0.005])
TRAY_START_MAX = np.array([TRAY_MAX[0] - CUBE_HALF - 0.005,
                           TRAY_MAX[1] - RAMP_WIDTH - CUBE_HALF - 0.005])
ON_TABLE = 0.01   # m, a cube whose bottom is within this of the table top rests on it
RESTING_SPEED = 0.05   # m/s
RELEASED_DISTANCE = 0.03   # m, TCP to cube centre
#: (3,) m, where every episode starts the TCP (pointing down): between the regions, at the rim.
START_TCP = (0.45, 0.0, TRAY_WALL_HEIGHT)


def tray_walls() -> str:
    """
    Return the tray's four walls and the side walls' slopes (MJCF box geoms on the table).

    Each slope is a 5 mm plate whose top face runs from the floor ``RAMP_WIDTH`` inside a side
    wall up to the wall's rim, at ``RAMP_ANGLE``; ``priority`` makes its ``RAMP_FRICTION`` the
    contact's (MuJoCo otherwise takes the larger of the two geoms' frictions).
    """
    (x0, y0), (x1, y1) = TRAY_MIN, TRAY_MAX
    t, h = TRAY_WALL_THICKNESS / 2, TRAY_WALL_HEIGHT / 2
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 + 2 * t, (y1 - y0) / 2
    walls = {'near': (x0 - t, cy, t, hy), 'far': (x1 + t, cy, t, hy),
             'right': (cx, y0 - t, hx, t), 'left': (cx, y1 + t, hx, t)}
    c, a = description.WORLD_CONTYPE, description.WORLD_CONAFFINITY
    xml = ''.join(f'    <geom name="tray_{name}" type="box" pos="{x:g} {y:g} {h:g}" '
                  f'size="{sx:g} {sy:g} {h:g}" material="tray_mat" contype="{c}" '
                  f'conaffinity="{a}"/>\n' for name, (x, y, sx, sy) in walls.items())
    plate = 0.0025   # half thickness, m
    half_length = RAMP_WIDTH / np.cos(RAMP_ANGLE) / 2
    for name, wall_y, inward in (('right', y0, 1.0), ('left', y1, -1.0)):
        # the top face's middle, then the plate's centre half a thickness below it
        my, mz = wall_y + inward * RAMP_WIDTH / 2, TRAY_WALL_HEIGHT / 2
        normal = np.array([inward * np.sin(RAMP_ANGLE), np.cos(RAMP_ANGLE)])
        py, pz = np.array([my, mz]) - plate * normal
        xml += (f'    <geom name="tray_{name}_slope" type="box" pos="{cx:g} {py:.6g} {pz:.6g}" '
                f'size="{(x1 - x0) / 2:g} {half_length:.6g} {plate:g}" '
                f'euler="{-inward * RAMP_ANGLE:.6g} 0 0" friction="{RAMP_FRICTION:g} 0.005 '
                f'0.0001" priority="2" material="tray_mat" contype="{c}" conaffinity="{a}"/>\n')
    return xml


class BinRelocationTask(CubeTask):
    """
    Move the cube into the target region and leave it there (see the module docstring).

    Parameters
    ----------
    direction
        ``'forward'`` (A -> B) or ``'backward'`` (B -> A).
    start_area
        ``'source'``: a full reset starts the cube in the source region; ``'tray'``: anywhere
        it can be picked up, outside the target region.

    Raises
    ------
        ValueError: an unknown direction or start area.

    """

    name = 'bin_relocation'
    #: The TCP stays over the tray's inside (1 cm from its walls) and below its rim, as SERL's
    #: real task bounds the arm's pose over its bins: a held cube cannot leave the tray (the
    #: module docstring). The first forward-backward run with the tray alone lost the cube 11
    #: times in 254 episodes; bounded in x and y only, 52 times in 3 runs.
    workspace_min = np.array([TRAY_MIN[0] + 0.01, TRAY_MIN[1] + 0.01, 0.0])
    workspace_max = np.array([TRAY_MAX[0] - 0.01, TRAY_MAX[1] - 0.01, TCP_CEILING])

    def __init__(self, direction: str = 'forward', start_area: str = 'source') -> None:
        self.direction = direction
        self.start_area = start_area

    @property
    def start_area(self) -> str:
        """'source' or 'tray': where a full reset starts the cube (see the class)."""
        return self._start_area

    @start_area.setter
    def start_area(self, value: str) -> None:
        if value not in START_AREAS:
            raise ValueError(f'start_area must be one of {START_AREAS}, got {value!r}')
        self._start_area = value

    @property
    def direction(self) -> str:
        """'forward' (A -> B) or 'backward' (B -> A)."""
        return self._direction

    @direction.setter
    def direction(self, value: str) -> None:
        if value not in DIRECTIONS:
            raise ValueError(f'direction must be one of {DIRECTIONS}, got {value!r}')
        self._direction = value

    @property
    def source(self) -> str:
        """Name of the region the cube starts in ('A' forward, 'B' backward)."""
        return 'A' if self._direction == 'forward' else 'B'

    @property
    def target(self) -> str:
        """Name of the region the cube must end in."""
        return 'B' if self._direction == 'forward' else 'A'

    def region_centre(self, region: str) -> np.ndarray:
        """(3,) m: centre of region ``region`` on the table top (z = 0)."""
        x, y = REGION_CENTRES[region]
        return np.array([x, y, 0.0])

    def mjcf_asset(self) -> str:
        """Cube, region and tray materials."""
        return (super().mjcf_asset()
                + '    <material name="region_a_mat" rgba="0.2 0.4 0.9 1"/>\n'
                '    <material name="region_b_mat" rgba="0.2 0.75 0.3 1"/>\n'
                '    <material name="tray_mat" rgba="0.55 0.45 0.35 1"/>\n')

    def mjcf_worldbody(self) -> str:
        """Return the two regions (thin marks, no collision), the tray's walls and the cube."""
        return ''.join(
            f'    <geom name="region_{name.lower()}" type="box" pos="{x:g} {y:g} 0.0005" '
            f'size="{REGION_HALF:g} {REGION_HALF:g} 0.0005" material="region_{name.lower()}_mat" '
            'contype="0" conaffinity="0"/>\n' for name, (x, y) in REGION_CENTRES.items()
        ) + tray_walls() + super().mjcf_worldbody()

    def reset(self, sim, rng: np.random.Generator) -> None:
        """Cube flat at a sampled (x, y) in the start area; TCP at ``START_TCP``, open."""
        if self._start_area == 'source':
            room = REGION_HALF - CUBE_HALF - 0.005
            x, y = self.region_centre(self.source)[:2] + rng.uniform(-room, room, 2)
        else:   # anywhere pickable outside the target square (it covers < 20 % of the area)
            while True:
                x, y = rng.uniform(TRAY_START_MIN, TRAY_START_MAX)
                if not self.point_in_region((x, y), self.target):
                    break
        self.place_cube(sim, x, y)
        sim.set_tcp_pose(START_TCP, DOWN)
        sim.set_finger_opening(description.FINGER_TRAVEL)

    def point_in_region(self, xy, region: str) -> bool:
        """Whether the point ``xy`` (2,) m, ``fr3_link0``, lies inside region ``region``."""
        offset = np.asarray(xy) - self.region_centre(region)[:2]
        return bool(np.all(np.abs(offset) <= REGION_HALF))

    def in_region(self, sim, region: str) -> bool:
        """Whether the cube's centre lies inside region ``region`` (x, y)."""
        return self.point_in_region(self.cube_position(sim)[:2], region)

    def object_in_reach(self, sim) -> bool:
        """Whether the arm can still pick the cube up (see the module docstring)."""
        cube = self.cube_position(sim)
        if not (np.all(cube >= REACH_MIN) and np.all(cube <= REACH_MAX)):
            return False
        resting = cube[2] - CUBE_HALF < ON_TABLE
        return not (resting and abs(cube[1]) > PICKABLE_Y)

    def success(self, sim) -> Tuple[bool, str]:
        """Resting in the target region, released."""
        cube = self.cube_position(sim)
        inside = self.in_region(sim, self.target)
        on_table = cube[2] - CUBE_HALF < ON_TABLE
        speed = self.cube_speed(sim)
        distance = float(np.linalg.norm(cube - sim.tcp_position()))
        width = sim.gripper_width()
        released = distance > RELEASED_DISTANCE or width > 2 * CUBE_HALF + 0.005
        ok = bool(inside and on_table and speed < RESTING_SPEED and released)
        return ok, (f'{self._direction}: cube at ({cube[0]:.3f}, {cube[1]:.3f}, {cube[2]:.3f}) '
                    f'm, {"inside" if inside else "outside"} region {self.target}, '
                    f'{speed:.3f} m/s, {distance * 1000:.0f} mm from TCP, gripper '
                    f'{width * 1000:.1f} mm')
