"""
Offscreen RGB rendering of the scene's cameras, and their pinhole intrinsics.

Uses ``mujoco.Renderer`` (EGL when ``MUJOCO_GL=egl``: no display needed). Images are uint8
RGB (H, W, 3), row 0 at the top, the layout of a ``sensor_msgs/Image`` with encoding ``rgb8``.
"""

import math
from typing import Tuple

import mujoco
import numpy as np


class CameraRenderer:
    """
    Render named cameras of a model at one image size.

    Parameters
    ----------
    model
        the MuJoCo model (its ``<visual><global offwidth/offheight>`` must be at least
        the image size).
    height, width
        image size in pixels.

    """

    def __init__(self, model: mujoco.MjModel, height: int = 128, width: int = 128) -> None:
        self.model = model
        self.height, self.width = int(height), int(width)
        self._renderer = mujoco.Renderer(model, self.height, self.width)

    def render(self, data: mujoco.MjData, camera: str) -> np.ndarray:
        """Return the image of ``camera`` for the state in ``data``: uint8 (H, W, 3) RGB."""
        self._renderer.update_scene(data, camera=camera)
        flags = self._renderer.scene.flags
        # Shadows and reflections cost ~10x the rest with software EGL (no GPU).
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        return self._renderer.render()

    def intrinsics(self, camera: str) -> Tuple[float, float, float, float]:
        """
        Pinhole intrinsics ``(fx, fy, cx, cy)`` in pixels of ``camera``.

        MuJoCo's ``fovy`` is the vertical field of view; pixels are square, so
        ``fy = fx = (H / 2) / tan(fovy / 2)``, and the principal point is the image centre.
        """
        fovy = math.radians(float(self.model.camera(camera).fovy[0]))
        focal = 0.5 * self.height / math.tan(0.5 * fovy)
        return focal, focal, (self.width - 1) / 2.0, (self.height - 1) / 2.0

    def close(self) -> None:
        """Free the GL context."""
        self._renderer.close()
