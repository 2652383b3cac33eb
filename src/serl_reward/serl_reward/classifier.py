"""
Binary success classifier over one or more camera images, and its reward modes.

The network is a small conv encoder per camera (trained from scratch) or one frozen pretrained
encoder shared by the cameras, features concatenated, then an MLP head giving one logit:
p(success | images) = sigmoid(logit). This is the reward classifier of SERL (Luo et al. 2024,
Sec. IV-C) and the discriminator D(s) of VICE (Fu et al. 2018, Eq. 3).
"""

import dataclasses
import math

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

#: Lowest reward the 'vice' mode returns: log p is clipped at this value (p ~ 4.5e-5).
MIN_LOG_PROBABILITY = -10.0

REWARD_MODES = ('sparse', 'vice')


@dataclasses.dataclass
class ClassifierConfig:
    """
    Architecture of the success classifier; stored in the model file.

    :ivar image_keys: camera names, in the order features are concatenated (e.g. front, wrist).
    :ivar image_size: (height, width) in pixels every camera image must have.
    :ivar channels: output channels of the conv layers (3x3, stride 2 each).
    :ivar feature_dim: per-camera feature size after the encoder's linear layer.
    :ivar hidden_dim: width of the MLP head.
    :ivar pretrained_encoder_path: optional TorchScript file of a frozen encoder mapping
        (B, 3, H, W) float RGB in [0, 1] to (B, F) features; replaces the conv encoders.
    """

    image_keys: tuple = ('front', 'wrist')
    image_size: tuple = (128, 128)
    channels: tuple = (16, 32, 32, 32)
    feature_dim: int = 64
    hidden_dim: int = 128
    pretrained_encoder_path: str = ''

    def validate(self):
        """Raise ``ValueError`` naming the first invalid field."""
        if not self.image_keys or len(set(self.image_keys)) != len(self.image_keys):
            raise ValueError(f'image_keys must be non-empty and unique: {self.image_keys}')
        if len(self.image_size) != 2 or min(self.image_size) < 8:
            raise ValueError(f'image_size must be (height, width) >= 8 px: {self.image_size}')
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f'channels must be positive: {self.channels}')
        if self.feature_dim < 1 or self.hidden_dim < 1:
            raise ValueError('feature_dim and hidden_dim must be >= 1')

    def to_dict(self):
        """Plain dict (lists, ints, str) for the model file."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values):
        """Inverse of :meth:`to_dict`; unknown keys raise ``TypeError``."""
        values = dict(values)
        for key in ('image_keys', 'image_size', 'channels'):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


class ConvEncoder(nn.Module):
    """Conv stack (3x3, stride 2, ReLU) + linear + LayerNorm + tanh: (B, 3, H, W) -> (B, F)."""

    def __init__(self, image_size, channels, feature_dim):
        super().__init__()
        layers, previous = [], 3
        for width in channels:
            layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1), nn.ReLU()]
            previous = width
        self.convs = nn.Sequential(*layers)
        height, width = image_size
        for _ in channels:
            height, width = (height + 1) // 2, (width + 1) // 2
        self.project = nn.Linear(previous * height * width, feature_dim)
        self.norm = nn.LayerNorm(feature_dim)

    def forward(self, images):
        """Features (B, feature_dim) of float images (B, 3, H, W) in [0, 1]."""
        return torch.tanh(self.norm(self.project(self.convs(images).flatten(1))))


class SuccessNet(nn.Module):
    """Images of every camera -> one success logit (B,)."""

    def __init__(self, config):
        super().__init__()
        config.validate()
        self.config = config
        if config.pretrained_encoder_path:
            self.pretrained = torch.jit.load(config.pretrained_encoder_path, map_location='cpu')
            self.pretrained.eval()
            for parameter in self.pretrained.parameters():
                parameter.requires_grad_(False)
            with torch.no_grad():
                probe = torch.zeros(1, 3, *config.image_size)
                feature_size = int(self.pretrained(probe).reshape(1, -1).shape[1])
            self.encoders = nn.ModuleDict({
                key: nn.Sequential(nn.Linear(feature_size, config.feature_dim),
                                   nn.LayerNorm(config.feature_dim), nn.Tanh())
                for key in config.image_keys})
        else:
            self.pretrained = None
            self.encoders = nn.ModuleDict({
                key: ConvEncoder(config.image_size, config.channels, config.feature_dim)
                for key in config.image_keys})
        self.head = nn.Sequential(
            nn.Linear(config.feature_dim * len(config.image_keys), config.hidden_dim),
            nn.ReLU(), nn.Linear(config.hidden_dim, 1))

    def forward(self, images):
        """Logits (B,) of a dict key -> float tensor (B, 3, H, W) in [0, 1]."""
        features = []
        for key in self.config.image_keys:
            x = images[key]
            if self.pretrained is not None:
                # Frozen (no parameter gradients), but inputs keep their gradient for VICE's
                # gradient penalty.
                x = self.pretrained(x).reshape(x.shape[0], -1)
            features.append(self.encoders[key](x))
        return self.head(torch.cat(features, dim=1)).squeeze(1)


def to_tensor_batch(images, keys):
    """
    uint8 arrays (B, H, W, 3) or (H, W, 3) per key -> float tensors (B, 3, H, W) in [0, 1].

    :raises KeyError: a camera in ``keys`` is missing from ``images``.
    """
    batch = {}
    for key in keys:
        if key not in images:
            raise KeyError(f'missing image {key!r}; have {sorted(images)}')
        x = torch.as_tensor(np.asarray(images[key]))
        if x.dim() == 3:
            x = x.unsqueeze(0)
        batch[key] = x.permute(0, 3, 1, 2).float().div_(255.0)
    return batch


class SuccessClassifier:
    """
    A trained success classifier: network, decision threshold and reward modes.

    :param net: a :class:`SuccessNet`.
    :param threshold: decision threshold on the probability (``success = p > threshold``).
    """

    def __init__(self, net, threshold=0.5):
        self.net = net
        self.threshold = float(threshold)

    @property
    def config(self):
        """Return the :class:`ClassifierConfig` of the network."""
        return self.net.config

    def logits(self, images):
        """Logits (B,) float32 numpy of uint8 images, dict key -> (B, H, W, 3) or (H, W, 3)."""
        self.net.eval()
        with torch.inference_mode():
            return self.net(to_tensor_batch(images, self.config.image_keys)).numpy()

    def probability(self, images):
        """p(success | images) (B,) float64 numpy in [0, 1]; input as :meth:`logits`."""
        return _sigmoid(self.logits(images).astype(np.float64))

    def reward(self, logit, mode='sparse'):
        """
        Reward of one logit, and the success decision.

        Modes: 'sparse' gives 1.0 when p > threshold else 0.0 (SERL's classifier reward);
        'vice' gives log p(e = 1 | s) = log sigmoid(logit), clipped below at
        :data:`MIN_LOG_PROBABILITY` (VICE, Fu et al. 2018, Eq. 5: r(s) = log D(s)).

        :returns: tuple: (probability float, reward float, success bool).

        :raises ValueError: unknown mode.
        """
        if mode not in REWARD_MODES:
            raise ValueError(f'unknown reward mode {mode!r}; expected one of {REWARD_MODES}')
        logit = float(logit)
        probability = float(_sigmoid(logit))
        success = probability > self.threshold
        if mode == 'sparse':
            return probability, 1.0 if success else 0.0, success
        log_p = -math.log1p(math.exp(-logit)) if logit > -30.0 else logit
        return probability, max(log_p, MIN_LOG_PROBABILITY), success


def build_net(config, seed=None):
    """Build a fresh :class:`SuccessNet` for ``config`` (seeded when ``seed`` is given)."""
    if seed is not None:
        torch.manual_seed(seed)
    return SuccessNet(config)


def bce_with_logits(logits, targets):
    """Mean binary cross-entropy of logits (B,) against soft targets (B,) in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits, targets)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))
