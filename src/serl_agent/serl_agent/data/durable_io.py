"""Durability helper shared by checkpoints and bag recording."""

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """
    Sync one file or directory (fsync), so that its data (or its directory entries) reach the disk.

    Best effort: a path that cannot be opened or synced (e.g. removed meanwhile, or a file
    system without directory fsync) is skipped silently.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
