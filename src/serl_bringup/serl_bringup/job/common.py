"""What every step of ``serl_train`` shares: its error, its log line, config and YAML files."""

from pathlib import Path

import yaml


#: s; the actor's stale-state limit in sim: the sim's reset pauses its state stream, which on
#: a loaded 2-core machine can exceed the 0.5 s default (keep the default on the real arm).
SIM_STATE_TIMEOUT = 1.0


class JobError(RuntimeError):
    """A step of the main job failed; the text says which and where its log is."""


def log(message: str) -> None:
    """Print one line of the job's narrative (not the status line)."""
    print(f'[serl_train] {message}', flush=True)


def config_dir() -> Path:
    """Return the project's ``config/`` directory."""
    from serl_bringup.graph import default_config_dir
    return default_config_dir()


def write_yaml(path: Path, data: dict) -> Path:
    """Write ``data`` as YAML to ``path`` and return the path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
