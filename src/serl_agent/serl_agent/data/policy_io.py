"""Policy weights as bytes: what the learner publishes in ``serl_msgs/PolicyWeights``."""

import io
import json
from typing import Tuple

from serl_agent.networks import build_policy, Policy
import torch

WEIGHTS_FORMAT = 'torch_state_dict'


def encode_policy(agent) -> Tuple[str, bytes]:
    """
    Return (config JSON, weight bytes) of an ``RLPDAgent``'s current policy.

    The bytes are ``torch.save`` of ``agent.policy_state_dict()`` (CPU tensors).
    """
    bio = io.BytesIO()
    torch.save(agent.policy_state_dict(), bio)
    return json.dumps(agent.policy_config(), sort_keys=True), bio.getvalue()


def decode_policy(config_json: str, data: bytes, weights_format: str = WEIGHTS_FORMAT,
                  device='cpu') -> Policy:
    """
    Build a ``Policy`` from ``encode_policy`` output (e.g. a received PolicyWeights).

    Raises ``ValueError`` for an unknown format, bad JSON, or weights that do not fit.
    """
    if weights_format != WEIGHTS_FORMAT:
        raise ValueError(f'unknown policy weights format {weights_format!r}, '
                         f'expected {WEIGHTS_FORMAT!r}')
    try:
        config = json.loads(config_json)
    except ValueError as e:
        raise ValueError(f'policy config is not valid JSON: {e}') from e
    policy = build_policy(config, device)
    load_weights(policy, data)
    return policy


def load_policy_file(path, device='cpu') -> Policy:
    """
    Load a saved policy in eval mode: ``policy.pt`` and the ``policy_config.json`` beside it.

    ``path`` holds the PolicyWeights data as ``serl_train`` writes it.

    Raises ``ValueError`` naming the file that is missing or does not load.
    """
    from pathlib import Path
    path = Path(path)
    config = path.with_name('policy_config.json')
    for needed in (path, config):
        if not needed.is_file():
            raise ValueError(f'{needed}: no such file (a run writes policy.pt and '
                             f'policy_config.json when it finishes)')
    try:
        policy = decode_policy(config.read_text(encoding='utf-8'), path.read_bytes(),
                               device=device)
    except ValueError as e:
        raise ValueError(f'{path}: {e}') from e
    return policy.eval()


def load_weights(policy: Policy, data: bytes) -> None:
    """
    Load ``encode_policy`` weight bytes into an existing ``policy`` (same config).

    Raises ``ValueError`` when the bytes are not a state dict that fits the policy.
    """
    try:
        state = torch.load(io.BytesIO(bytes(data)), map_location='cpu', weights_only=True)
        policy.load_state_dict(state)
    except Exception as e:  # noqa: B902 - torch raises several types for bad bytes
        raise ValueError(f'policy weights do not load: {type(e).__name__}: {e}') from e
