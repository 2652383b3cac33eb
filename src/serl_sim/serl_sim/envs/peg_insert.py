"""``PandaPegInsert-v0``: insert the held peg into the hole (SERL's peg insertion task)."""

from typing import Optional

from serl_sim.envs.base import FrankaEnv
from serl_sim.tasks.peg_insert import PegInsertTask


class PandaPegInsertEnv(FrankaEnv):
    """Peg insertion with the hole's opening observed as ``object_pos`` (state-based)."""

    def __init__(self, render_mode: Optional[str] = None, **kwargs) -> None:
        super().__init__(PegInsertTask(), image_obs=False, render_mode=render_mode, **kwargs)
