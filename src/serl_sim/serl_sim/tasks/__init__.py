"""SERL's tasks on the simulated FR3: pick a cube, insert a peg, relocate a cube."""

from serl_sim.tasks.base import Task
from serl_sim.tasks.bin_relocation import BinRelocationTask
from serl_sim.tasks.cube import CubeTask
from serl_sim.tasks.peg_insert import PegInsertTask
from serl_sim.tasks.pick_cube import PickCubeTask

#: Task class of each Gymnasium env id (the sim node's ``task`` parameter takes these ids).
TASK_OF_ENV = {
    'PandaPickCube-v0': PickCubeTask,
    'PandaPickCubeVision-v0': PickCubeTask,
    'PandaPegInsert-v0': PegInsertTask,
    'PandaBinRelocation-v0': BinRelocationTask,
    'PandaBinRelocationVision-v0': BinRelocationTask,
}


def make_task(env_id: str) -> Task:
    """
    Return a new task for a Gymnasium env id.

    Raises
    ------
        ValueError: naming the known ids when ``env_id`` is not one.

    """
    try:
        return TASK_OF_ENV[env_id]()
    except KeyError:
        raise ValueError(f'unknown task {env_id!r}; known: {sorted(TASK_OF_ENV)}') from None


__all__ = ['Task', 'CubeTask', 'PickCubeTask', 'PegInsertTask', 'BinRelocationTask', 'TASK_OF_ENV',
           'make_task']
