"""``PandaPickCube-v0`` and ``PandaPickCubeVision-v0``: lift the cube (SERL's franka_sim task)."""

from typing import Optional

from serl_sim.envs.base import FrankaEnv
from serl_sim.tasks.pick_cube import PickCubeTask


class PandaPickCubeEnv(FrankaEnv):
    """Pick-cube with the cube position observed (state-based)."""

    def __init__(self, render_mode: Optional[str] = None, **kwargs) -> None:
        super().__init__(PickCubeTask(), image_obs=False, render_mode=render_mode, **kwargs)


class PandaPickCubeVisionEnv(FrankaEnv):
    """Pick-cube observed through the ``front`` and ``wrist`` cameras (128x128 RGB)."""

    def __init__(self, render_mode: Optional[str] = None, **kwargs) -> None:
        super().__init__(PickCubeTask(), image_obs=True, render_mode=render_mode, **kwargs)
