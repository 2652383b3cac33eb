"""``KEY=VALUE`` overrides from a command line (``--set``, ``--agent-set``), values as YAML."""

from typing import Dict, Sequence

import yaml


def parse_overrides(items: Sequence[str], flag: str = '--set') -> Dict[str, object]:
    """
    Parse ``['utd_ratio=2', 'hidden_dims=[64, 64]']`` into ``{'utd_ratio': 2, ...}``.

    Each value is read as YAML (numbers, booleans, lists); a later key replaces an earlier one.

    :param flag: the option's name, for the error message.
    :raises ValueError: an item without ``=`` or with an empty key, naming it and ``flag``.
    """
    out = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise ValueError(f'{flag} expects key=value, got {item!r}')
        out[key.strip()] = yaml.safe_load(value)
    return out
