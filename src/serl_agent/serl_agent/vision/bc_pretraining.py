"""
Pretrain the frozen image encoders by behaviour cloning on the demos.

The demos hold what a pick policy must see: the expert's action at each frame depends on where
the object is relative to the gripper. Fitting the demo actions from the cameras (and
proprioception) through the spatial-softmax encoders makes their feature points track the
object, which a reconstruction loss does not guarantee (measured: docs/benchmarks.md, "Pixels").
Levine et al. 2016 ("End-to-End Training of Deep Visuomotor Policies", JMLR 17) pretrain the
same conv + spatial-softmax layers to predict object poses before training the policy; no pose
is observed here (a real robot has none), so the demo actions are the supervision, with DrQ's
random shift (Kostrikov et al. 2020) against overfitting a few demos. The behaviour-cloning
head is thrown away; RL starts its own networks on the features.

Shapes: N frames, S the image side, P proprioception size, A = 4 actions in [-1, 1].
"""

from typing import Callable, Dict, Optional, Sequence

import numpy as np
from serl_agent.networks import random_shift
from serl_agent.vision.spatial_autoencoder import SpatialAutoencoderConfig, SpatialEncoder
import torch
from torch import nn


def pretrain_by_behaviour_cloning(frames: Dict[str, np.ndarray], proprio: np.ndarray,
                                  actions: np.ndarray, config: SpatialAutoencoderConfig,
                                  image_shift: int = 4, hidden_dims: Sequence[int] = (256, 256),
                                  seed: int = 0,
                                  callback: Optional[Callable[[int, dict], None]] = None
                                  ) -> Dict[str, SpatialEncoder]:
    """
    Fit encoders + an MLP head to the demo actions; return the encoders, frozen.

    :param frames: camera -> (N, S, S, 3) uint8 frames, row i of every camera the same step.
    :param proprio: (N, P) float32 proprioception of the same steps.
    :param actions: (N, A) float32 demo actions in [-1, 1].
    :param config: encoder architecture, ``steps``, ``batch_size``, ``learning_rate``.
    :param image_shift: pixels of random shift per frame (0: none).
    :param hidden_dims: widths of the head's hidden layers.
    :param callback: ``callback(step, {'loss': mean squared action error})`` after each step.
    :returns: camera -> frozen ``SpatialEncoder`` (eval mode, no grad).
    :raises ValueError: no frames, or arrays whose lengths or dtypes do not match.
    """
    config.validate()
    actions = np.asarray(actions, np.float32)
    proprio = np.asarray(proprio, np.float32)
    n = len(actions)
    if n == 0 or not frames:
        raise ValueError('behaviour cloning needs at least one demo step and one camera')
    if proprio.ndim != 2 or len(proprio) != n or actions.ndim != 2:
        raise ValueError(f'proprio {proprio.shape} and actions {actions.shape} must be (N, P) '
                         f'and (N, A) with the same N')
    for camera, images in frames.items():
        if images.dtype != np.uint8 or images.ndim != 4 or len(images) != n:
            raise ValueError(f'camera {camera!r}: expected ({n}, H, W, 3) uint8 frames, got '
                             f'{images.shape} {images.dtype}')
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    cameras = sorted(frames)
    encoders = nn.ModuleDict({c: SpatialEncoder(config) for c in cameras})
    width = sum(encoders[c].feature_dim for c in cameras) + proprio.shape[1]
    layers = []
    for h in hidden_dims:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    head = nn.Sequential(*layers, nn.Linear(width, actions.shape[1]))
    optimizer = torch.optim.Adam(list(encoders.parameters()) + list(head.parameters()),
                                 lr=config.learning_rate)
    images = {c: torch.from_numpy(np.ascontiguousarray(frames[c])) for c in cameras}
    p, a = torch.from_numpy(proprio), torch.from_numpy(actions)
    for step in range(config.steps):
        idx = torch.randint(0, n, (min(config.batch_size, n),), generator=generator)
        features = [encoders[c](random_shift(images[c][idx], image_shift, generator))
                    for c in cameras]
        predicted = torch.tanh(head(torch.cat(features + [p[idx]], dim=1)))
        loss = (predicted - a[idx]).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if callback is not None:
            callback(step, {'loss': float(loss.detach())})
    for encoder in encoders.values():
        encoder.eval().requires_grad_(False)
    return dict(encoders)
