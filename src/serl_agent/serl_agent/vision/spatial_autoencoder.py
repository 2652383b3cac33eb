"""
Deep spatial autoencoder: feature points of a camera image, learned without labels.

Finn et al. 2016, "Deep Spatial Autoencoders for Visuomotor Learning" (arXiv 1509.06113),
Sec. IV: a conv stack, then a spatial softmax per channel whose expected image coordinates are
the channel's feature point (Eq. 1-2); a linear decoder reconstructs a downsampled copy of the
input from the feature points alone (in colour here, where Finn et al. use grayscale: a red cube
on a brown table has little luma contrast), so the points must track what moves in the scene
(the arm, the gripper fingers, the object). Trained on the frames a user records anyway (demos,
failure episodes); then frozen, so every frame is encoded once.

Shapes: B = batch, C = channels (feature points), S = input side (pixels). Pixels are uint8
RGB (B, S, S, 3); features float32 (B, 2 C) in [-1, 1] (x then y of each point, image frame:
x to the right, y down).
"""

import dataclasses
from typing import Dict, Iterator, Optional

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


@dataclasses.dataclass
class SpatialAutoencoderConfig:
    """
    Architecture and pretraining of the spatial autoencoder; stored in the encoder file.

    :ivar input_size: side in pixels the camera images are resized to (area interpolation).
    :ivar channels: widths of the conv layers; the last one is the number of feature points.
    :ivar reconstruction_size: side of the RGB image the decoder reconstructs.
    :ivar steps: Adam steps of pretraining; ``batch_size`` frames each.
    :ivar learning_rate: Adam step size.
    :ivar smoothness: weight of Finn et al.'s smoothness term (Eq. 4): feature points of
        consecutive frames should move little; 0 disables it.
    """

    input_size: int = 64
    channels: tuple = (32, 32, 16)
    reconstruction_size: int = 32
    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 1e-3
    smoothness: float = 0.0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field out of range."""
        if self.input_size < 16:
            raise ValueError(f'input_size must be >= 16 pixels, got {self.input_size}')
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f'channels must be positive widths, got {self.channels}')
        if not 4 <= self.reconstruction_size <= self.input_size:
            raise ValueError(f'reconstruction_size must be in [4, input_size], got '
                             f'{self.reconstruction_size}')
        if self.steps < 0 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError('steps >= 0, batch_size >= 1 and learning_rate > 0 are required')

    def to_dict(self) -> dict:
        """JSON-able dict of the fields."""
        out = dataclasses.asdict(self)
        out['channels'] = list(self.channels)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> 'SpatialAutoencoderConfig':
        """Inverse of ``to_dict``; raises ``ValueError`` for an unknown field."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f'unknown spatial autoencoder fields {unknown}')
        values = dict(values)
        if 'channels' in values:
            values['channels'] = tuple(int(c) for c in values['channels'])
        config = cls(**values)
        config.validate()
        return config


def spatial_softmax(features: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    """
    Return the expected image coordinates of each channel's softmax (Finn et al., Eq. 1-2).

    features: (B, C, H, W) float; temperature: scalar tensor (the softmax is of
    features / temperature). Returns (B, 2 C): x_0 .. x_{C-1}, y_0 .. y_{C-1}, each in [-1, 1]
    (pixel centres; -1 = left / top edge).
    """
    b, c, h, w = features.shape
    attention = torch.softmax(features.reshape(b, c, h * w) / temperature, dim=-1)
    attention = attention.reshape(b, c, h, w)
    xs = torch.linspace(-1.0, 1.0, w, device=features.device, dtype=features.dtype)
    ys = torch.linspace(-1.0, 1.0, h, device=features.device, dtype=features.dtype)
    x = (attention.sum(dim=2) * xs).sum(dim=-1)
    y = (attention.sum(dim=3) * ys).sum(dim=-1)
    return torch.cat([x, y], dim=1)


def to_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, size, size) float32 in [0, 1] (area resize)."""
    x = images.permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode='area')
    return x


class SpatialEncoder(nn.Module):
    """
    Conv stack + spatial softmax: (B, S, S, 3) uint8 -> (B, 2 C) float32 feature points.

    First conv 5x5 stride 2, the others 3x3 stride 1, ReLU between (Finn et al. use 7x7 then
    5x5; smaller kernels for 64-pixel inputs). Learned softmax temperature (Eq. 1's alpha).
    """

    def __init__(self, config: SpatialAutoencoderConfig):
        super().__init__()
        self.config = config
        layers, previous = [], 3
        for i, width in enumerate(config.channels):
            kernel, stride = (5, 2) if i == 0 else (3, 1)
            layers.append(nn.Conv2d(previous, width, kernel, stride=stride, padding=kernel // 2))
            if i < len(config.channels) - 1:
                layers.append(nn.ReLU())
            previous = width
        self.convs = nn.Sequential(*layers)
        self.log_temperature = nn.Parameter(torch.zeros(()))

    @property
    def feature_dim(self) -> int:
        """2 x the number of feature points."""
        return 2 * self.config.channels[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode (B, H, W, 3) uint8 images (any H, W; resized) to (B, 2 C) feature points."""
        x = to_input(images, self.config.input_size)
        return spatial_softmax(self.convs(x), self.log_temperature.exp())


class SpatialAutoencoder(nn.Module):
    """``SpatialEncoder`` + linear decoder to a downsampled RGB image (Finn et al. IV-B)."""

    def __init__(self, config: SpatialAutoencoderConfig):
        super().__init__()
        self.encoder = SpatialEncoder(config)
        side = config.reconstruction_size
        self.decoder = nn.Linear(self.encoder.feature_dim, 3 * side * side)

    def reconstruction_target(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> (B, 3 * side * side) RGB in [0, 1], area-downsampled."""
        x = to_input(images, self.encoder.config.reconstruction_size)
        return x.reshape(x.shape[0], -1)

    def loss(self, images: torch.Tensor, next_images: Optional[torch.Tensor] = None
             ) -> Dict[str, torch.Tensor]:
        """
        Reconstruction MSE (+ smoothness on consecutive frames when given and configured).

        images, next_images: (B, H, W, 3) uint8. Returns {'loss', 'reconstruction', 'smoothness'}.
        """
        points = self.encoder(images)
        reconstruction = F.mse_loss(self.decoder(points), self.reconstruction_target(images))
        smooth = torch.zeros((), device=images.device)
        weight = self.encoder.config.smoothness
        if next_images is not None and weight > 0:
            smooth = (self.encoder(next_images) - points).pow(2).sum(-1).mean()
        return {'loss': reconstruction + weight * smooth, 'reconstruction': reconstruction,
                'smoothness': smooth}


def pretrain(frames: np.ndarray, config: SpatialAutoencoderConfig, seed: int = 0,
             callback=None) -> SpatialEncoder:
    """
    Fit a spatial autoencoder to ``frames`` and return its encoder, frozen (eval, no grad).

    frames: (N, H, W, 3) uint8, N >= 1, in recording order (consecutive frames are consecutive
    rows; used by the smoothness term). ``callback(step, metrics)`` after each step.
    Raises ``ValueError`` for frames of another shape or dtype.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f'frames must be (N, H, W, 3) uint8 with N >= 1, got '
                         f'{frames.shape} {frames.dtype}')
    config.validate()
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SpatialAutoencoder(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    data = torch.from_numpy(frames)
    for step, idx in zip(range(config.steps), _batches(len(data), config.batch_size, generator)):
        nxt = data[(idx + 1).clamp(max=len(data) - 1)] if config.smoothness > 0 else None
        metrics = model.loss(data[idx], nxt)
        optimizer.zero_grad(set_to_none=True)
        metrics['loss'].backward()
        optimizer.step()
        if callback is not None:
            callback(step, {k: float(v.detach()) for k, v in metrics.items()})
    encoder = model.encoder.eval()
    encoder.requires_grad_(False)
    return encoder


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    while True:
        yield torch.randint(0, n, (min(batch_size, n),), generator=generator)
