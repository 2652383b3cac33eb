"""
Frozen image features: the encoder file, batched encoding, and a Gymnasium wrapper.

An encoder file (``torch.save`` of a dict, format ``serl_agent.image_encoder/1``) holds one
pretrained ``SpatialEncoder`` per camera with its config. ``ImageFeatures`` maps an observation
dict's images ``<camera>`` (H, W, 3) uint8 to ``<camera>_features`` (D,) float32 and leaves the
state keys as they are; ``ImageFeaturesWrapper`` applies it to an env's observations, so every
agent, buffer and checkpoint downstream sees a state observation and each frame is encoded once
(when it is observed), not at every gradient step.
"""

from pathlib import Path
from typing import Dict, Mapping, Optional, Union

import gymnasium as gym
import numpy as np
from serl_agent.vision.spatial_autoencoder import SpatialAutoencoderConfig, SpatialEncoder
import torch

FORMAT = 'serl_agent.image_encoder/1'
FEATURES_SUFFIX = '_features'


class EncoderFileError(ValueError):
    """An encoder file is missing, unreadable, of another format or inconsistent."""


def feature_key(camera: str) -> str:
    """Observation key of a camera's features: ``front`` -> ``front_features``."""
    return camera + FEATURES_SUFFIX


def save_encoders(path: Union[str, Path], encoders: Mapping[str, SpatialEncoder],
                  metadata: Optional[dict] = None) -> Path:
    """
    Write ``encoders`` (camera name -> encoder) to ``path`` atomically; return the path.

    ``metadata`` (JSON-able: frames used, loss, command) is stored beside the weights.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {'format': FORMAT, 'metadata': dict(metadata or {}),
               'cameras': {name: {'config': enc.config.to_dict(),
                                  'state_dict': {k: v.detach().cpu()
                                                 for k, v in enc.state_dict().items()}}
                           for name, enc in encoders.items()}}
    tmp = path.with_name(path.name + '.tmp')
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_encoders(path: Union[str, Path]) -> Dict[str, SpatialEncoder]:
    """
    Read an encoder file: camera name -> frozen ``SpatialEncoder`` (eval mode, no grad).

    Raises ``EncoderFileError`` naming the file when it is missing, not a torch file, of
    another format, or its weights do not fit its config.
    """
    path = Path(path)
    if not path.is_file():
        raise EncoderFileError(f'image encoder file {path} does not exist')
    try:
        payload = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: B902 - torch raises many types for a corrupt file
        raise EncoderFileError(f'image encoder file {path} is unreadable: {exc}') from None
    if not isinstance(payload, dict) or payload.get('format') != FORMAT:
        found = payload.get('format') if isinstance(payload, dict) else type(payload).__name__
        raise EncoderFileError(f'image encoder file {path} is not a {FORMAT} file '
                               f'(found {found!r})')
    encoders = {}
    for name, entry in payload.get('cameras', {}).items():
        try:
            encoder = SpatialEncoder(SpatialAutoencoderConfig.from_dict(entry['config']))
            encoder.load_state_dict(entry['state_dict'])
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise EncoderFileError(f'image encoder file {path}, camera {name!r}: '
                                   f'{exc}') from None
        encoder.eval().requires_grad_(False)
        encoders[name] = encoder
    if not encoders:
        raise EncoderFileError(f'image encoder file {path} holds no camera encoder')
    return encoders


class ImageFeatures:
    """
    Images -> frozen features, for one observation or a batch.

    :param encoders: camera name -> frozen encoder (``load_encoders``).
    :param batch_size: frames encoded per forward pass when encoding a buffer.
    """

    def __init__(self, encoders: Mapping[str, SpatialEncoder], batch_size: int = 256):
        self.encoders = dict(encoders)
        self.batch_size = int(batch_size)
        # camera -> (image, features) of the last next_observation seen by transition():
        # a trajectory's next observation is the following transition's observation
        self._last: Dict[str, tuple] = {}
        self.frames_encoded = 0

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> 'ImageFeatures':
        """Load ``path`` (``load_encoders``; raises ``EncoderFileError``)."""
        return cls(load_encoders(path))

    @property
    def cameras(self):
        """Camera names, sorted."""
        return sorted(self.encoders)

    def space(self, space: gym.spaces.Dict) -> gym.spaces.Dict:
        """
        Return the observation space with each camera image replaced by its features.

        Features are Box(-1, 1, (D,), float32). Raises ``ValueError`` naming a camera the
        space lacks or whose images are not (H, W, 3) uint8.
        """
        spaces = dict(space.spaces)
        for camera in self.cameras:
            box = spaces.pop(camera, None)
            if box is None:
                raise ValueError(f'the observation has no camera {camera!r} '
                                 f'(has {sorted(space.spaces)})')
            if box.dtype != np.uint8 or len(box.shape) != 3 or box.shape[-1] != 3:
                raise ValueError(f'camera {camera!r}: expected (H, W, 3) uint8 images, got '
                                 f'{box.shape} {box.dtype}')
            dim = self.encoders[camera].feature_dim
            spaces[feature_key(camera)] = gym.spaces.Box(-1.0, 1.0, (dim,), np.float32)
        return gym.spaces.Dict(spaces)

    @torch.no_grad()
    def encode(self, camera: str, images: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) or (H, W, 3) uint8 -> (N, D) or (D,) float32 features."""
        images = np.asarray(images)
        single = images.ndim == 3
        batch = torch.from_numpy(np.ascontiguousarray(images[None] if single else images))
        encoder = self.encoders[camera]
        out = torch.cat([encoder(batch[i:i + self.batch_size])
                         for i in range(0, max(len(batch), 1), self.batch_size)])
        out = out.numpy().astype(np.float32)
        self.frames_encoded += len(batch)
        return out[0] if single else out

    def observation(self, obs: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Replace the camera images by their features, in one observation or a batch."""
        out = {k: v for k, v in obs.items() if k not in self.encoders}
        for camera in self.cameras:
            if camera not in obs:
                raise ValueError(f'observation is missing camera {camera!r} (has {sorted(obs)})')
            out[feature_key(camera)] = self.encode(camera, obs[camera])
        return out

    def transition(self, tr: dict) -> dict:
        """
        Replace the images of a transition dict's (``transition_codec``) observations.

        Transitions that arrive in trajectory order share frames (a step's next observation
        is the next step's observation): a frame equal to the previous transition's next
        frame reuses its features, so a trajectory costs one encoding per frame, not two.
        Not thread-safe (one caller at a time).
        """
        obs, nxt = tr['observation'], tr['next_observation']
        out = dict(tr)
        out['observation'] = {k: v for k, v in obs.items() if k not in self.encoders}
        out['next_observation'] = {k: v for k, v in nxt.items() if k not in self.encoders}
        for camera in self.cameras:
            for name, o in (('observation', obs), ('next_observation', nxt)):
                if camera not in o:
                    raise ValueError(f'{name} is missing camera {camera!r} (has {sorted(o)})')
            image, next_image = np.asarray(obs[camera]), np.asarray(nxt[camera])
            last = self._last.get(camera)
            if last is not None and np.array_equal(last[0], image):
                features, next_features = last[1], self.encode(camera, next_image)
            else:
                features, next_features = self.encode(camera, np.stack([image, next_image]))
            out['observation'][feature_key(camera)] = features
            out['next_observation'][feature_key(camera)] = next_features
            self._last[camera] = (next_image.copy(), next_features)
        return out


class ImageFeaturesWrapper(gym.ObservationWrapper):
    """
    A camera env seen through frozen features: ``front`` (H, W, 3) -> ``front_features`` (D,).

    :param env: env with a Dict observation space holding the encoders' cameras.
    :param features: ``ImageFeatures`` (or a path to an encoder file).
    :raises ValueError: the env lacks a camera (``ImageFeatures.space``).
    :raises EncoderFileError: the encoder file is missing or corrupt.
    """

    def __init__(self, env: gym.Env, features: Union[ImageFeatures, str, Path]):
        super().__init__(env)
        self.features = (features if isinstance(features, ImageFeatures)
                         else ImageFeatures.from_file(features))
        self.observation_space = self.features.space(env.observation_space)

    def observation(self, observation):
        """Replace the camera images with their features."""
        return self.features.observation(observation)
