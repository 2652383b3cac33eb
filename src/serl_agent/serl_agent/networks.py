"""
Networks shared by the agents: observation encoder, critic ensemble, tanh-Gaussian policy.

Shapes: B = batch, E = ensemble size, D = feature size, A = action size. All float32.

- ``observation_spec(space)``: a JSON-able description of a Gymnasium ``Box`` or ``Dict``
  observation space (state arrays, flattened, and uint8 HxWxC images).
- ``ObservationEncoder``: state arrays concatenated in sorted key order, plus one DrQ-style conv
  encoder per image key (Kostrikov et al. 2020, arXiv 2004.13649), output (B, D).
- ``CriticEnsemble``: E LayerNorm MLPs held as stacked weights (E, in, out) and evaluated with
  one batched matmul per layer (RLPD, Ball et al. 2023, Sec. 4.2: LayerNorm + ensemble).
- ``TanhGaussianActor``: SAC's squashed Gaussian policy (Haarnoja et al. 2018, arXiv 1812.05905,
  App. C, Eq. 21 for the log-density of the tanh transform); ``tanh_gaussian_sample`` draws from
  it, ``tanh_gaussian_log_prob`` scores given actions.
- ``Policy`` = encoder + actor head: what the learner publishes and an actor runs;
  ``build_policy(policy_config)`` makes one from any agent's ``policy_config()``.
"""

import math
from typing import Dict, Optional, Sequence, Tuple, Union

import gymnasium as gym
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

Obs = Union[torch.Tensor, Dict[str, torch.Tensor]]
LOG2 = math.log(2.0)


def _is_image(box: gym.spaces.Box) -> bool:
    return box.dtype == np.uint8 and len(box.shape) == 3


def observation_spec(space: gym.Space) -> dict:
    """
    Describe an observation space as JSON-able dict.

    ``Box`` -> ``{'type': 'box', 'shape': [...]}`` (float state, flattened by the encoder).
    ``Dict`` of ``Box`` -> ``{'type': 'dict', 'state': {key: shape}, 'images': {key: [H, W, C]}}``;
    a uint8 ``Box`` of rank 3 is an image (HxWxC), anything else a state array.
    Raises ``ValueError`` for other spaces (nested dicts, Discrete, image-only ``Box``).
    """
    if isinstance(space, gym.spaces.Box):
        if _is_image(space):
            raise ValueError('a bare image Box observation is not supported: wrap it in a Dict '
                             'space, e.g. Dict(pixels=Box(0, 255, (H, W, C), uint8))')
        return {'type': 'box', 'shape': [int(s) for s in space.shape]}
    if isinstance(space, gym.spaces.Dict):
        state, images = {}, {}
        for key, sub in space.spaces.items():
            if not isinstance(sub, gym.spaces.Box):
                raise ValueError(f'observation key {key!r}: only Box sub-spaces are supported, '
                                 f'got {type(sub).__name__}')
            if _is_image(sub):
                images[key] = [int(s) for s in sub.shape]
            else:
                state[key] = [int(s) for s in sub.shape]
        return {'type': 'dict', 'state': dict(sorted(state.items())),
                'images': dict(sorted(images.items()))}
    raise ValueError(f'unsupported observation space {space!r}: use Box or Dict of Box')


def random_shift(images: torch.Tensor, pad: int,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """
    Shift images randomly (DrQ augmentation, Kostrikov et al. 2020, Sec. 3.1; RLPD Table 1: 4 px).

    Each image is padded by ``pad`` pixels with its edge values (replicate) and cropped back at
    a random offset in [0, 2 pad], i.e. shifted by up to ``pad`` pixels in x and y. Implemented
    as clamped index gathering, so it works on uint8 without a padded copy.

    images: (B, H, W, C) any dtype -> same shape and dtype.
    """
    if pad == 0:
        return images
    b, h, w, _ = images.shape
    dev = images.device
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), device=dev, generator=generator) - pad
    rows = (torch.arange(h, device=dev)[None, :] + offsets[:, :1]).clamp_(0, h - 1)
    cols = (torch.arange(w, device=dev)[None, :] + offsets[:, 1:]).clamp_(0, w - 1)
    batch = torch.arange(b, device=dev)[:, None, None]
    return images[batch, rows[:, :, None], cols[:, None, :]]


class ImageEncoder(nn.Module):
    """
    Conv encoder for one camera: (B, H, W, C) uint8 -> (B, latent) float32.

    Four 3x3 convs with ``filters`` channels, strides 2, 2, 2, 1, ReLU; then Linear ->
    LayerNorm -> tanh to ``latent_dim`` (DrQ's encoder head, Kostrikov et al. 2020, App. A).
    Pixels are scaled to [0, 1].
    """

    def __init__(self, image_shape: Sequence[int], filters: int = 32, latent_dim: int = 50):
        super().__init__()
        h, w, c = image_shape
        if min(h, w) < 32:
            raise ValueError(f'image of {h}x{w} pixels is too small for the conv encoder '
                             f'(four 3x3 convs, strides 2, 2, 2, 1): use at least 32x32')
        self.convs = nn.Sequential(
            nn.Conv2d(c, filters, 3, stride=2), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, stride=2), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, stride=2), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, stride=1), nn.ReLU(),
            nn.Flatten())
        with torch.no_grad():
            n = self.convs(torch.zeros(1, c, h, w)).shape[1]
        self.head = nn.Sequential(nn.Linear(n, latent_dim), nn.LayerNorm(latent_dim), nn.Tanh())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode (B, H, W, C) images (uint8 0..255 or float 0..1) to (B, latent)."""
        x = images.permute(0, 3, 1, 2)
        x = x.float() / 255.0 if images.dtype == torch.uint8 else x.float()
        return self.head(self.convs(x))


class RunningNormalizer(nn.Module):
    """
    Running mean and variance of state features, and x -> clip((x - mean) / std, -10, 10).

    Statistics over every sample given to ``update`` (Chan et al. 1979's parallel combination
    of batch moments, as Stable-Baselines3's ``RunningMeanStd``; clip 10 as its
    ``VecNormalize``). They are buffers, so they travel with the encoder's state dict: in
    checkpoints and in the policy weights the actor receives. Before any update it is the
    identity (mean 0, variance 1). dim: feature size D; x (B, D) float32.
    """

    CLIP = 10.0
    EPS = 1e-8

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer('mean', torch.zeros(dim, dtype=torch.float64))
        self.register_buffer('var', torch.ones(dim, dtype=torch.float64))
        self.register_buffer('count', torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch x (B, D) into the running mean and variance."""
        x = x.detach().to(self.mean.device, torch.float64).reshape(-1, self.mean.shape[0])
        n = x.shape[0]
        if n == 0:
            return
        batch_mean, batch_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) -> normalised and clipped (B, D) float32."""
        std = (self.var + self.EPS).sqrt().to(x.dtype)
        return ((x - self.mean.to(x.dtype)) / std).clamp(-self.CLIP, self.CLIP)


class ObservationEncoder(nn.Module):
    """
    Observation -> feature vector (B, D).

    State arrays are flattened and concatenated in sorted key order (no parameters), then, with
    ``normalize``, standardised by a ``RunningNormalizer``; each image key has its own
    ``ImageEncoder``. For a ``box`` spec the observation is a (B, ...) tensor.
    """

    def __init__(self, spec: dict, filters: int = 32, latent_dim: int = 50,
                 normalize: bool = False):
        super().__init__()
        self.spec = spec
        if spec['type'] == 'box':
            self.state_keys = []
            self.state_dim = int(np.prod(spec['shape']))
            self.images = nn.ModuleDict()
        else:
            self.state_keys = list(spec['state'])
            self.state_dim = int(sum(np.prod(s) for s in spec['state'].values()))
            self.images = nn.ModuleDict({k: ImageEncoder(s, filters, latent_dim)
                                         for k, s in spec['images'].items()})
        self.feature_dim = self.state_dim + latent_dim * len(self.images)
        self.normalizer = RunningNormalizer(self.state_dim) if normalize and self.state_dim \
            else None

    @property
    def has_images(self) -> bool:
        """Whether there are image keys (with trainable conv encoders)."""
        return len(self.images) > 0

    def state_features(self, obs: Obs) -> torch.Tensor:
        """Flatten and concatenate the state arrays: (B, state_dim) float32, unnormalised."""
        if self.spec['type'] == 'box':
            return obs.reshape(obs.shape[0], -1).float()
        parts = [obs[k].reshape(obs[k].shape[0], -1).float() for k in self.state_keys]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def forward(self, obs: Obs) -> torch.Tensor:
        """Encode a batch of observations (tensor or dict of tensors) to (B, D) float32."""
        parts = []
        if self.state_dim:
            state = self.state_features(obs)
            parts.append(self.normalizer(state) if self.normalizer is not None else state)
        if self.spec['type'] != 'box':
            parts += [enc(obs[k]) for k, enc in self.images.items()]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


_IDENTITY_AFFINE: Dict[tuple, Tuple[torch.Tensor, torch.Tensor]] = {}


def _identity_affine(size: int, dtype, device) -> Tuple[torch.Tensor, torch.Tensor]:
    key = (size, dtype, str(device))
    if key not in _IDENTITY_AFFINE:
        _IDENTITY_AFFINE[key] = (torch.ones(size, dtype=dtype, device=device),
                                 torch.zeros(size, dtype=dtype, device=device))
    return _IDENTITY_AFFINE[key]


class _LayerNormReLU(torch.autograd.Function):
    """
    relu(LayerNorm(x) * g + b) over the last dim, with per-critic affine g, b of (E, 1, H).

    Same math as ``F.relu(torch.addcmul(b, F.layer_norm(x, (H,)), g))`` (Ba et al. 2016,
    arXiv 1607.06450), with a hand-written backward that fuses the ReLU mask and reuses
    buffers: about 15 % less time per critic update on a CPU than autograd's graph of three ops.
    """

    @staticmethod
    def forward(ctx, x, g, b):
        # An explicit identity affine takes torch's vectorised CPU kernel, about twice as fast
        # as the affine-free path in torch 2.13 (measured; see docs/benchmarks.md).
        h = x.shape[-1]
        one, zero = _identity_affine(h, x.dtype, x.device)
        xhat, mean, rstd = torch.native_layer_norm(x, (h,), one, zero, 1e-5)
        y = torch.addcmul(b, xhat, g).relu_()
        ctx.save_for_backward(x, xhat, g, y, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, xhat, g, y, mean, rstd = ctx.saved_tensors
        grad = torch.ops.aten.threshold_backward(grad, y, 0)
        grad_g = (grad * xhat).sum(1, keepdim=True) if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(1, keepdim=True) if ctx.needs_input_grad[2] else None
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.native_layer_norm_backward(
                grad.mul_(g), x, x.shape[-1:], mean, rstd, None, None,
                [True, False, False])[0]
        return grad_x, grad_g, grad_b


def layer_norm_relu(x: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """
    relu(LayerNorm(x) * g + b) over the last dim (Ba et al. 2016, arXiv 1607.06450).

    x (E, B, H) float32 (or bf16 under autocast), per-critic affine g, b (E, 1, H) ->
    (E, B, H). Eager fp32: the fused ``_LayerNormReLU`` autograd function; under
    ``torch.compile`` or for bf16 input: the plain ops (the compiler fuses them into its own
    forward and backward kernels).
    """
    if torch.compiler.is_compiling() or x.dtype != torch.float32:
        return F.relu(torch.addcmul(b, F.layer_norm(x, x.shape[-1:]), g))
    return _LayerNormReLU.apply(x, g, b)


class CriticEnsemble(nn.Module):
    """
    E independent Q-networks MLP(in -> hidden... -> 1), stacked as (E, in, out) tensors.

    Each hidden layer is Linear -> LayerNorm (per-critic affine) -> ReLU (RLPD Sec. 4.2). One
    ``torch.baddbmm`` per layer evaluates all E critics (or a subset given by ``indices``).
    Initialisation per critic as ``nn.Linear``: U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_dim: int, hidden_dims: Sequence[int], num_critics: int,
                 layer_norm: bool = True):
        super().__init__()
        self.num_critics = num_critics
        self.layer_norm = layer_norm
        dims = [in_dim, *hidden_dims, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.ln_weights = nn.ParameterList()
        self.ln_biases = nn.ParameterList()
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            bound = 1.0 / math.sqrt(d_in)
            self.weights.append(nn.Parameter(
                torch.empty(num_critics, d_in, d_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(
                torch.empty(num_critics, 1, d_out).uniform_(-bound, bound)))
            if layer_norm and i < len(dims) - 2:
                self.ln_weights.append(nn.Parameter(torch.ones(num_critics, 1, d_out)))
                self.ln_biases.append(nn.Parameter(torch.zeros(num_critics, 1, d_out)))

    def forward(self, features: torch.Tensor, actions: torch.Tensor,
                indices: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Q-values of all critics, or of the critics ``indices`` (Z,) only.

        features (B, D), actions (B, A) -> (E, B) or (Z, B) float32.
        """
        x = torch.cat([features, actions], dim=-1)
        n_layers = len(self.weights)
        k = self.num_critics if indices is None else indices.shape[0]
        h = x.unsqueeze(0).expand(k, *x.shape)
        compiling = torch.compiler.is_compiling()
        for i in range(n_layers):
            w, b = self.weights[i], self.biases[i]
            if indices is not None:
                w, b = w[indices], b[indices]
            # Compiled: bmm + bias, so that the bias add fuses into the next kernel.
            h = (torch.bmm(h, w) + b if compiling else torch.baddbmm(b, h, w))
            if i < n_layers - 1:
                if self.layer_norm:
                    g, beta = self.ln_weights[i], self.ln_biases[i]
                    if indices is not None:
                        g, beta = g[indices], beta[indices]
                    h = layer_norm_relu(h, g, beta)
                else:
                    h = F.relu(h)
        return h.squeeze(-1)


class TanhGaussianActor(nn.Module):
    """
    Squashed Gaussian policy head (SAC, Haarnoja et al. 2018).

    Features (B, D) -> mean, log_std (B, A) of the pre-tanh Gaussian. ReLU MLP; the output
    layer's initial weights are scaled by ``init_scale`` so that first actions are small;
    log_std is clipped to [log_std_min, log_std_max].
    """

    def __init__(self, in_dim: int, action_dim: int, hidden_dims: Sequence[int],
                 log_std_min: float = -20.0, log_std_max: float = 2.0,
                 init_scale: float = 0.01):
        super().__init__()
        layers, d = [], in_dim
        for h in hidden_dims:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.trunk = nn.Sequential(*layers)
        self.out = nn.Linear(d, 2 * action_dim)
        with torch.no_grad():
            self.out.weight.mul_(init_scale)
            self.out.bias.zero_()
        self.action_dim = action_dim
        self.log_std_min = log_std_min
        self.log_std_max = log_std_max

    def forward(self, features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, D) -> mean (B, A), log_std (B, A) clipped to [log_std_min, log_std_max]."""
        mean, log_std = self.out(self.trunk(features)).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)


def tanh_gaussian_sample(mean: torch.Tensor, log_std: torch.Tensor,
                         generator: Optional[torch.Generator] = None
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    Reparameterised sample a = tanh(u), u ~ N(mean, std^2), and its log-density.

    log pi(a) = sum_j [log N(u_j) - log(1 - tanh(u_j)^2)] (SAC, Haarnoja et al. 2018, Eq. 21),
    with log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) for numerical stability.
    mean, log_std (B, A) -> action (B, A) in (-1, 1), log_prob (B,).
    """
    eps = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device, generator=generator)
    return tanh_gaussian_from_noise(mean, log_std, eps)


def tanh_gaussian_from_noise(mean: torch.Tensor, log_std: torch.Tensor, eps: torch.Tensor
                             ) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    ``tanh_gaussian_sample`` with the standard normal noise ``eps`` (B, A) given.

    a = tanh(mean + exp(log_std) eps) and log pi(a) as in ``tanh_gaussian_sample`` (SAC Eq. 21).
    Draws nothing, so it can run inside a compiled graph.
    """
    std = log_std.exp()
    u = mean + std * eps
    log_prob = (-0.5 * eps.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_prob = log_prob - (2.0 * (LOG2 - u - F.softplus(-2.0 * u))).sum(-1)
    return torch.tanh(u), log_prob


def tanh_gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor,
                           bound: float = 1.0 - 1e-4) -> torch.Tensor:
    """
    Log-density log pi(a) of given actions a under the tanh-Gaussian (SAC Eq. 21).

    u = atanh(a) with a clipped to [-bound, bound] first (a recorded action of exactly +-1 has
    u = +-inf), then log pi(a) = sum_j [log N(u_j; mean_j, std_j) - log(1 - tanh(u_j)^2)].
    mean, log_std, actions (B, A) -> log_prob (B,). Used by the likelihood objectives of BC and
    AWAC (Nair et al. 2020, Eq. 13), which score buffer actions rather than sampled ones.
    """
    a = actions.clamp(-bound, bound)
    u = torch.atanh(a)
    z = (u - mean) * torch.exp(-log_std)
    log_prob = (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    return log_prob - (2.0 * (LOG2 - u - F.softplus(-2.0 * u))).sum(-1)


class Policy(nn.Module):
    """
    Encoder + tanh-Gaussian head: the network an actor runs.

    ``forward(obs) -> (mean, log_std)``; ``act(obs, deterministic)`` takes numpy observations
    (one or a batch) and returns float32 actions in [-1, 1].
    """

    def __init__(self, policy_config: dict, encoder: Optional[ObservationEncoder] = None):
        super().__init__()
        c = policy_config
        self.policy_config = c
        self.encoder = encoder if encoder is not None else ObservationEncoder(
            c['observation'], c['encoder_filters'], c['encoder_latent_dim'],
            c.get('normalize_observations', False))
        self.head = TanhGaussianActor(self.encoder.feature_dim, c['action_dim'],
                                      c['hidden_dims'], c['log_std_min'], c['log_std_max'],
                                      c.get('policy_init_scale', 0.01))

    def forward(self, obs: Obs) -> Tuple[torch.Tensor, torch.Tensor]:
        """Batch of observations -> mean, log_std (B, A) of the pre-tanh Gaussian."""
        return self.head(self.encoder(obs))

    @torch.no_grad()
    def act(self, obs, deterministic: bool = False,
            generator: Optional[torch.Generator] = None) -> np.ndarray:
        """
        Numpy observation (unbatched or batched) -> float32 action(s) in [-1, 1].

        Deterministic mode returns tanh(mean). Raises ``ValueError`` on a missing key or
        wrong shape.
        """
        device = next(self.parameters()).device
        batch, single = obs_to_torch(obs, self.policy_config['observation'], device)
        mean, log_std = self(batch)
        if deterministic:
            a = torch.tanh(mean)
        else:
            a, _ = tanh_gaussian_sample(mean, log_std, generator)
        a = a.clamp(-1.0, 1.0).cpu().numpy().astype(np.float32)
        return a[0] if single else a


def obs_to_torch(obs, spec: dict, device) -> Tuple[Obs, bool]:
    """
    Numpy observation (one, or a batch with a leading dim) -> torch batch, was_single.

    State arrays become float32, images stay uint8. Raises ``ValueError`` naming a missing key
    or a shape that fits neither one observation nor a batch.
    """
    def conv(x, shape, dtype, name):
        x = torch.as_tensor(np.asarray(x), device=device)
        shape = tuple(shape)
        if tuple(x.shape) == shape:
            return x.to(dtype).unsqueeze(0), True
        if tuple(x.shape[1:]) == shape:
            return x.to(dtype), False
        raise ValueError(f'observation {name!r} has shape {tuple(x.shape)}, expected {shape} '
                         f'or (batch, *{shape})')

    if spec['type'] == 'box':
        return conv(obs, spec['shape'], torch.float32, 'obs')
    if not isinstance(obs, dict):
        raise ValueError(f'expected a dict observation, got {type(obs).__name__}')
    out, single = {}, None
    for group, dtype in (('state', torch.float32), ('images', torch.uint8)):
        for key, shape in spec[group].items():
            if key not in obs:
                raise ValueError(f'observation is missing key {key!r} (has {sorted(obs)})')
            out[key], s = conv(obs[key], shape, dtype, key)
            single = s if single is None else single
    return out, bool(single)


def build_policy(policy_config: dict, device='cpu') -> Policy:
    """
    Build an untrained ``Policy`` from an agent's ``policy_config()`` (JSON-able dict).

    Load the learner's weights with ``policy.load_state_dict(state_dict)``. Raises
    ``ValueError`` when a required key is missing.
    """
    required = ('observation', 'action_dim', 'hidden_dims', 'log_std_min', 'log_std_max',
                'encoder_filters', 'encoder_latent_dim')
    missing = [k for k in required if k not in policy_config]
    if missing:
        raise ValueError(f'policy config is missing keys {missing}')
    return Policy(policy_config).to(device)
