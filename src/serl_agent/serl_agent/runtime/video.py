"""
Evaluation videos: camera frames side by side with text drawn on them, encoded as H.264 MP4.

Encoding is PyAV's (FFmpeg's libx264, ``yuv420p``, so browsers and players show it); text is
drawn with OpenCV. No rclpy: the frames come from observations (``serl_agent``'s Gymnasium
path) or from camera topics (``serl_eval``'s graph path).
"""

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np


class VideoError(ValueError):
    """A video file that cannot be written (named), or frames that cannot be composed."""


def compose(frames: Dict[str, np.ndarray], lines: Sequence[str] = (), height: int = 256
            ) -> np.ndarray:
    """
    Put camera frames side by side (sorted by name) at ``height`` px and draw ``lines`` on top.

    frames: name -> (H, W, 3) uint8 RGB. Returns (height, W_total, 3) uint8 RGB, width even.
    """
    import cv2

    if not frames:
        raise VideoError('no camera frame to show')
    tiles = []
    for name in sorted(frames):
        image = np.asarray(frames[name])
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise VideoError(f'camera {name!r}: expected (H, W, 3) uint8 RGB, got '
                             f'{image.shape} {image.dtype}')
        width = max(2, int(round(image.shape[1] * height / image.shape[0])))
        tile = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
        cv2.putText(tile, name, (4, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    out = np.concatenate(tiles, axis=1)
    if out.shape[1] % 2:   # yuv420p needs even sizes
        out = np.concatenate([out, out[:, -1:]], axis=1)
    for i, line in enumerate(lines):
        y = 16 + 16 * i
        cv2.putText(out, line, (5, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3,
                    cv2.LINE_AA)
        cv2.putText(out, line, (5, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1,
                    cv2.LINE_AA)
    return np.ascontiguousarray(out)


class VideoWriter:
    """
    An MP4 file written frame by frame (``add``), finished by ``close``.

    The file is created when the writer is made, so a path that cannot be written fails at
    once, before any episode runs. path: ``.mp4`` file; fps: frames per second (the control
    rate). Raises ``VideoError`` naming the path.
    """

    def __init__(self, path, fps: float = 10.0):
        import av

        self.path = Path(path)
        if self.path.suffix.lower() != '.mp4':
            raise VideoError(f'{self.path}: the video file must end in .mp4')
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), mode='w')
        except (OSError, av.error.FFmpegError) as e:
            raise VideoError(f'{self.path}: cannot write the video: {e}') from e
        self.fps = fps
        self._stream: Optional[object] = None
        self.frames = 0

    def add(self, image: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame (every frame the size of the first)."""
        import av

        if self._stream is None:
            self._stream = self._container.add_stream('libx264', rate=int(round(self.fps)))
            self._stream.height, self._stream.width = image.shape[:2]
            self._stream.pix_fmt = 'yuv420p'
        elif image.shape[:2] != (self._stream.height, self._stream.width):
            raise VideoError(f'{self.path}: frame of {image.shape[:2]}, the video is '
                             f'{(self._stream.height, self._stream.width)}')
        frame = av.VideoFrame.from_ndarray(image, format='rgb24')
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()


def count_frames(path) -> int:
    """Decode an MP4 and return how many frames it holds (tests, checks)."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))
