"""
A real camera's frame made to look like a sim camera's: centre crop to a square, then resize.

serl_sim renders each camera as a square ``camera_width`` x ``camera_height`` image (128 x 128,
config/sim.yaml). A driver (``realsense2_camera``, ``usb_cam``) publishes 640 x 480 or 1280 x
720 frames; cropping the centre square and resizing it (OpenCV's area interpolation, the
right filter for shrinking) gives the policy and the reward classifier frames of the shape
they were trained on, in sim or on the robot.
"""

from typing import Tuple

import cv2
import numpy as np


def crop_and_resize(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """
    Centre-crop ``image`` to its largest square and resize it to ``size``.

    :param image: (H, W, 3) uint8 RGB frame, any H and W >= 1.
    :param size: (height, width) in pixels of the result.
    :returns: (height, width, 3) uint8, C-contiguous.
    :raises ValueError: an image that is not (H, W, 3) uint8, or a size that is not positive.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError(f'expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}')
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f'size must be positive, got {size}')
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top:top + side, left:left + side]
    interpolation = cv2.INTER_AREA if side >= max(height, width) else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(square, (width, height), interpolation=interpolation))
