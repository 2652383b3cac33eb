"""``PandaBinRelocation-v0`` and its vision variant: move the cube from one region to the other."""

from typing import Any, Dict, Optional

from serl_sim.envs.base import FrankaEnv
from serl_sim.tasks.bin_relocation import BinRelocationTask


class PandaBinRelocationEnv(FrankaEnv):
    """
    Bin relocation, forward (A -> B) or backward (B -> A), state-based.

    ``gymnasium.make('PandaBinRelocation-v0', direction='backward')`` picks the direction;
    ``reset(options={'direction': ...})`` changes it, and ``reset(options={'keep_objects':
    True})`` starts the next episode without touching the cube (only the arm and gripper start
    over): forward-backward training alternates the two directions that way, resetting the
    scene only when the cube is out of reach (``task.object_in_reach``). ``start_area='tray'``
    (constructor or reset option) starts the cube anywhere pickable outside the target region
    instead of in the source region (``serl_sim.tasks.bin_relocation``).
    """

    image_obs = False

    def __init__(self, render_mode: Optional[str] = None, direction: str = 'forward',
                 start_area: str = 'source', **kwargs) -> None:
        super().__init__(BinRelocationTask(direction, start_area), image_obs=self.image_obs,
                         render_mode=render_mode, **kwargs)

    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None):
        """Gymnasium reset; ``options``: ``direction``, ``start_area``, ``keep_objects``."""
        options = dict(options or {})
        if 'direction' in options:
            self.task.direction = options.pop('direction')
        if 'start_area' in options:
            self.task.start_area = options.pop('start_area')
        return super().reset(seed=seed, options=options)

    def step(self, action):
        """
        Gymnasium step, and whether the cube can still be picked up.

        ``info['object_in_reach']``: when False, the episode ends (``truncated``) and the
        scene needs a reset.
        """
        obs, reward, terminated, truncated, info = super().step(action)
        info['object_in_reach'] = self.task.object_in_reach(self.sim)
        return obs, reward, terminated, truncated or not info['object_in_reach'], info


class PandaBinRelocationVisionEnv(PandaBinRelocationEnv):
    """Bin relocation observed through the ``front`` and ``wrist`` cameras (128x128 RGB)."""

    image_obs = True
