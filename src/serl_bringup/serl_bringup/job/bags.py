"""The episode bags of a run directory: finished, unfinished (set aside), successful."""

from pathlib import Path
from typing import List

from serl_bringup.job.common import log


def complete_bags(directory: Path) -> List[Path]:
    """Return the finished episode bags in ``directory`` (not ``.partial``/incomplete)."""
    if not directory.is_dir():
        return []
    return sorted(d for d in directory.iterdir()
                  if d.is_dir() and not d.name.startswith('.')
                  and not d.name.endswith('_incomplete') and (d / 'metadata.yaml').exists())


def set_aside_incomplete(directory: Path, aside: Path) -> List[Path]:
    """
    Move the bags of episodes that did not finish out of the demo directory.

    An episode the actor aborted (stale robot state) or that Ctrl-C cut is closed by the demo
    recorder as ``<name>_incomplete``; the classifier and the demo buffer read every bag of
    the directory, so such bags go to ``aside``.

    :returns: the moved bags (new paths).
    """
    moved = []
    for bag in sorted(directory.glob('*_incomplete')) if directory.is_dir() else []:
        aside.mkdir(parents=True, exist_ok=True)
        moved.append(bag.rename(aside / bag.name))
    if moved:
        log(f'{len(moved)} unfinished demo episode(s) set aside in {aside}')
    return moved


def successful_bags(directory: Path) -> int:
    """Return how many finished episode bags in ``directory`` contain a successful step."""
    from serl_agent.data.bag_io import read_transitions
    bags = complete_bags(directory)
    if not bags:
        return 0
    return len({item.bag for item in read_transitions(bags) if item.msg.success})
