"""SERL's tasks on the simulated FR3: pick a cube, insert a peg."""

from serl_sim.tasks.base import Task
from serl_sim.tasks.peg_insert import PegInsertTask
from serl_sim.tasks.pick_cube import PickCubeTask

TASKS = {'pick_cube': PickCubeTask, 'peg_insert': PegInsertTask}

__all__ = ['Task', 'PickCubeTask', 'PegInsertTask', 'TASKS']
