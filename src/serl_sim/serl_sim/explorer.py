"""
Scripted workspace explorer: failure frames for the reward classifier.

A success classifier trained on demonstrations alone has seen the arm only on the expert's
path; an RL policy soon flies where no demo went (the TCP high in a corner, the gripper closed
on nothing) and a classifier that never saw those frames may call them successes, which the
policy then learns to reach instead of the cube (measured: docs/benchmarks.md, "The main job").
HIL-SERL records such failure frames by teleoperating the arm around; in sim this explorer does
it. It flies the TCP between random waypoints, some anywhere in the workspace box, some on the
box's faces, edges and corners (where a policy whose actions saturate ends up: the equilibrium
is clipped to the box) and some around the object (hovering over it, touching it, closing the
gripper beside it), with a random gripper command per waypoint. It never tries to lift the
object; when it does by chance, the sim's ground truth labels that frame a success, so every
label stays true.

Actions follow serl_sim's env convention: (dx, dy, dz) = (waypoint - TCP) / action_scale clipped
to [-1, 1]; gripper -1 closes, +1 opens.
"""

from typing import Dict, Optional, Sequence

import numpy as np

from serl_sim.experts import _toward, DEFAULT_ACTION_SCALE


class WorkspaceExplorer:
    """
    Fly the TCP between random waypoints; a new random gripper command at each waypoint.

    :param workspace_min: (3,) m, lower corner of the box waypoints are drawn from (the env's
        workspace, ``fr3_link0``).
    :param workspace_max: (3,) m, upper corner.
    :param rng: random generator (waypoints, gripper commands).
    :param action_scale: m of equilibrium translation per unit action (the env's).
    :param near_object: probability that a waypoint lies around the observed ``object_pos``
        (within ``object_radius`` in x and y, 0-0.15 m above it) rather than anywhere.
    :param on_boundary: probability that a waypoint not around the object lies on the box's
        boundary: each coordinate then sits at its minimum or maximum with probability 1/2
        (faces, edges and corners), else uniform. A reward classifier that saw no frame there
        called the TCP high in a corner a success (docs/benchmarks.md, session 4).
    :param object_radius: m, half-width of the square around the object.
    :param reach_tolerance: m; closer than this to the waypoint, the next one is drawn.
    :param max_steps_per_waypoint: steps before giving up on an unreachable waypoint.
    :raises ValueError: a box corner is not (3,) or not below the other, a probability not in
        [0, 1], a length or step count not positive.
    """

    def __init__(self, workspace_min: Sequence[float], workspace_max: Sequence[float],
                 rng: Optional[np.random.Generator] = None,
                 action_scale: float = DEFAULT_ACTION_SCALE, near_object: float = 0.4,
                 on_boundary: float = 0.5, object_radius: float = 0.06,
                 reach_tolerance: float = 0.015, max_steps_per_waypoint: int = 30) -> None:
        low = np.asarray(workspace_min, np.float64)
        high = np.asarray(workspace_max, np.float64)
        if low.shape != (3,) or high.shape != (3,) or not np.all(low < high):
            raise ValueError(f'workspace box must be two (3,) corners with min < max, got '
                             f'{workspace_min} and {workspace_max}')
        for name, value in (('near_object', near_object), ('on_boundary', on_boundary)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'{name} must be a probability, got {value}')
        for name, value in (('action_scale', action_scale), ('object_radius', object_radius),
                            ('reach_tolerance', reach_tolerance),
                            ('max_steps_per_waypoint', max_steps_per_waypoint)):
            if not value > 0:
                raise ValueError(f'{name} must be > 0, got {value}')
        self.low, self.high = low, high
        self.rng = rng if rng is not None else np.random.default_rng()
        self.action_scale = float(action_scale)
        self.near_object = float(near_object)
        self.on_boundary = float(on_boundary)
        self.object_radius = float(object_radius)
        self.reach_tolerance = float(reach_tolerance)
        self.max_steps_per_waypoint = int(max_steps_per_waypoint)
        self.waypoint: Optional[np.ndarray] = None
        self.gripper = 1.0
        self._steps = 0

    def reset(self) -> None:
        """Forget the current waypoint (the next call draws one)."""
        self.waypoint = None

    def _draw(self, obs: Dict[str, np.ndarray]) -> None:
        if 'object_pos' in obs and self.rng.random() < self.near_object:
            obj = np.asarray(obs['object_pos'], np.float64)
            offset = self.rng.uniform([-self.object_radius, -self.object_radius, 0.0],
                                      [self.object_radius, self.object_radius, 0.15])
            point = obj + offset
        else:
            point = self.rng.uniform(self.low, self.high)
            if self.rng.random() < self.on_boundary:
                snap = self.rng.random(3) < 0.5
                corner = np.where(self.rng.random(3) < 0.5, self.low, self.high)
                point = np.where(snap, corner, point)
        self.waypoint = np.clip(point, self.low, self.high)
        self.gripper = float(self.rng.choice([-1.0, 1.0]))
        self._steps = 0

    def __call__(self, obs: Dict[str, np.ndarray]) -> np.ndarray:
        """
        Return the action (4,) float32 toward the current waypoint.

        :param obs: observation with ``tcp_pose`` (7,) (position m first) and, optionally,
            ``object_pos`` (3,) m.
        """
        tcp = np.asarray(obs['tcp_pose'][:3], np.float64)
        if (self.waypoint is None or self._steps >= self.max_steps_per_waypoint
                or np.linalg.norm(self.waypoint - tcp) < self.reach_tolerance):
            self._draw(obs)
        self._steps += 1
        return _toward(self.waypoint, tcp, self.action_scale, self.gripper)
