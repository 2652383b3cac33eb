"""
The interface every agent offers, and what they all share: spaces, policy, batches from buffers.

An agent is used the same way by ``serl_train_gym``, the learner node and the benchmarks:

- ``act(obs, deterministic)``: numpy observation(s) -> float32 action(s) in [-1, 1];
- ``pretrain(prior_buffer)`` / ``pretrain_step(prior_buffer)``: the offline phase,
  ``config.offline_steps`` gradient steps on the prior data alone (AWAC's pretraining, BC's
  whole training; none for SAC and RLPD);
- ``update(online_buffer, prior_buffer)``: the learning done per env step online;
- ``state_dict()`` / ``load_state_dict()``: everything to continue training (checkpoints);
- ``policy_config()`` / ``policy_state_dict()``: the ``networks.Policy`` an actor runs (the same
  tanh-Gaussian policy for every agent, so the actor never knows which agent trained it);
- ``config``: the agent's ``AgentConfig``; ``critic_updates``, ``actor_updates``,
  ``offline_updates``: gradient step counters; ``temperature`` (0 where there is none).
"""

import abc
import logging
import math
from typing import ClassVar, Dict, Optional

import gymnasium as gym
import numpy as np
from serl_agent.agents.config import AgentConfig
from serl_agent.agents.precision import autocast, resolve_precision
from serl_agent.data.replay import Batch, ReplayBuffer
from serl_agent.networks import (obs_to_torch, observation_spec, ObservationEncoder, Policy,
                                 random_shift)
import torch

STATE_VERSION = 2
log = logging.getLogger('serl_agent.agents')


def adam(params, lr, weight_decay: float = 0.0):
    """Fused Adam where this torch/device supports it, else the foreach implementation."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)


def to_device(x, device):
    """Move a batch (tensor or dict of tensors) to ``device``; pinned, asynchronous to CUDA."""
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    if x.device == device:
        return x
    if x.device.type == 'cpu' and device.type == 'cuda':
        x = x.pin_memory()  # page-locked (cached by torch), so the copy runs asynchronously
    return x.to(device, non_blocking=True)


def finite_metrics(means: Dict[str, torch.Tensor], step: int) -> Dict[str, float]:
    """
    Tensors -> floats in one device-to-host transfer; raise on a non-finite value.

    Raises ``FloatingPointError`` naming the non-finite metrics: the networks diverged.
    """
    values = torch.stack([v.detach().float().reshape(()) for v in means.values()]).tolist()
    metrics = dict(zip(means, values))
    bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
    if bad:
        raise FloatingPointError(
            f'non-finite {bad} after update {step} (metrics {metrics}): the networks are no '
            f'longer usable; do not publish or checkpoint them, restart from the last '
            f'checkpoint (check rewards and observations for huge values)')
    return metrics


class Agent(abc.ABC):
    """
    Base of the agents: spaces, the tanh-Gaussian ``Policy``, seeded batch sampling.

    observation_space: ``Box`` or ``Dict`` of ``Box`` (uint8 HxWxC entries are images).
    action_space: 1-D ``Box``; agents work in normalised actions [-1, 1]. config: the agent's
    ``AgentConfig`` subclass (``config_class``; its defaults when None). device: torch device.
    seed: seeds this agent's torch generator (batches, noise, shifts).
    Raises ``ValueError`` for an action space that is not a 1-D ``Box``, or a config of
    another agent's class.
    """

    name: ClassVar[str] = ''
    config_class: ClassVar[type] = AgentConfig
    # False: ``update`` learns nothing online (BC); loops then only collect and evaluate.
    learns_online: ClassVar[bool] = True

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 config: Optional[AgentConfig] = None, device='cpu',
                 seed: Optional[int] = None):
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f'action_space must be a 1-D Box, got {action_space!r}')
        config = config if config is not None else self.config_class()
        if not isinstance(config, self.config_class):
            raise ValueError(f'{type(self).__name__} needs a {self.config_class.__name__}, '
                             f'got a {type(config).__name__}')
        self.config = config
        self.device = torch.device(device)
        self.observation_space = observation_space
        self.action_space = action_space
        self.spec = observation_spec(observation_space)
        self.action_dim = int(action_space.shape[0])
        if seed is not None:
            torch.manual_seed(seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed) if seed is not None else
                                   int(torch.randint(0, 2**62, (1,)).item()))
        self._sample_generators: Dict[str, torch.Generator] = {}
        self.encoder = ObservationEncoder(self.spec, config.encoder_filters,
                                          config.encoder_latent_dim,
                                          config.normalize_observations)
        self.policy = Policy(self.policy_config(), encoder=self.encoder).to(self.device)
        self.critic_updates = 0
        self.actor_updates = 0
        self.offline_updates = 0
        # 'fp32' or 'bf16' (``config.precision`` resolved for this device; 'auto' is logged)
        self.precision, why = resolve_precision(config.precision, self.device)
        if config.precision == 'auto':
            log.info('%s agent: precision %s (%s)', self.name, self.precision, why)

    def autocast(self):
        """Context for a training forward pass at ``self.precision`` (bf16: autocast)."""
        return autocast(self.precision, self.device)

    # ---------------------------------------------------------------- acting
    @property
    def temperature(self) -> float:
        """Return the entropy temperature alpha (0 for agents without one)."""
        return 0.0

    def act(self, obs, deterministic: bool = False) -> np.ndarray:
        """
        Numpy observation (one or a batch) -> float32 action(s) in [-1, 1].

        Stochastic: a ~ tanh(N(mean, std)); deterministic: tanh(mean). Raises ``ValueError``
        on a missing key or a wrong shape.
        """
        return self.policy.act(obs, deterministic, generator=self.generator)

    def policy_config(self) -> dict:
        """JSON-able description that ``networks.build_policy`` turns into a ``Policy``."""
        c = self.config
        return {'format_version': 1, 'observation': self.spec, 'action_dim': self.action_dim,
                'hidden_dims': list(c.hidden_dims), 'log_std_min': c.log_std_min,
                'log_std_max': c.log_std_max, 'encoder_filters': c.encoder_filters,
                'encoder_latent_dim': c.encoder_latent_dim,
                'policy_init_scale': c.policy_init_scale,
                **({'normalize_observations': True} if c.normalize_observations else {})}

    def policy_state_dict(self) -> Dict[str, torch.Tensor]:
        """Weights of the ``Policy`` (encoder + head), detached CPU copies."""
        return {k: v.detach().to('cpu', copy=True) for k, v in self.policy.state_dict().items()}

    def observe(self, observations) -> None:
        """
        Fold observations into the running normalisation statistics (no-op without them).

        observations: one numpy observation or a batch (as ``act`` takes them), or a torch
        batch as ``ReplayBuffer.sample`` returns it. Called by the training loops on every
        observation that enters a buffer.
        """
        normalizer = self.encoder.normalizer
        if normalizer is None:
            return
        if isinstance(observations, torch.Tensor) or (
                isinstance(observations, dict)
                and all(isinstance(v, torch.Tensor) for v in observations.values())):
            batch = observations
        else:
            batch, _ = obs_to_torch(observations, self.spec, 'cpu')
        normalizer.update(self.encoder.state_features(batch))
        self._statistics_changed()

    def observe_buffer(self, buffer: Optional[ReplayBuffer]) -> None:
        """Fold every observation stored in ``buffer`` into the statistics (prior data)."""
        if buffer is None or self.encoder.normalizer is None or len(buffer) == 0:
            return
        self.observe(buffer.gather(torch.arange(len(buffer), device=buffer.device))
                     ['observations'])

    def _statistics_changed(self) -> None:
        """Let agents holding copies of the encoder (targets) follow the statistics."""

    # ---------------------------------------------------------------- batches
    def _generator_for(self, device: torch.device) -> torch.Generator:
        if device == self.device:
            return self.generator
        key = str(device)
        if key not in self._sample_generators:
            g = torch.Generator(device=device)
            g.manual_seed(int(torch.randint(0, 2**62, (1,), generator=self.generator,
                                            device=self.device).item()))
            self._sample_generators[key] = g
        return self._sample_generators[key]

    def check_buffers(self, **buffers: Optional[ReplayBuffer]) -> None:
        """Raise ``ValueError`` naming a buffer whose observations or actions are not ours."""
        for name, buf in buffers.items():
            if buf is not None and (buf.spec != self.spec or buf.action_dim != self.action_dim):
                raise ValueError(f'{name} holds observations {buf.spec} and {buf.action_dim}-D '
                                 f'actions; this agent expects {self.spec} and '
                                 f'{self.action_dim}-D actions')

    def sample_batch(self, online_buffer: Optional[ReplayBuffer],
                     prior_buffer: Optional[ReplayBuffer] = None,
                     mode: str = 'symmetric') -> Batch:
        """
        Sample one batch of N = ``batch_size`` transitions onto the agent's device.

        ``mode`` (``config.PRIOR_SAMPLING``) says how the two buffers share the batch:
        'symmetric': exactly N/2 online then N/2 prior (RLPD, Alg. 1); 'seeded': each of the N
        drawn uniformly from the union, so the prior share is Binomial(N, |D| / (|R| + |D|)),
        as if the prior data sat in the replay buffer; 'online': N online. Without a prior
        buffer all N are online; without an online buffer all N are prior.

        The batch's ``'prior'`` (N,) bool marks the rows drawn from the prior buffer (they come
        last).

        Raises ``ValueError`` when a buffer to sample from is empty, or when the two buffers
        hold different observation layouts or action sizes.
        """
        batch, n_prior = self._sample(online_buffer, prior_buffer, mode)
        n = self.config.batch_size
        batch['prior'] = torch.arange(n, device=self.device) >= n - n_prior
        return batch

    def _sample(self, online_buffer: Optional[ReplayBuffer],
                prior_buffer: Optional[ReplayBuffer], mode: str):
        """Return ``(batch, prior rows at its end)`` (see :meth:`sample_batch`)."""
        n = self.config.batch_size
        if online_buffer is None and prior_buffer is None:
            raise ValueError('no buffer to sample from')
        if online_buffer is None or prior_buffer is None or mode == 'online':
            buf = online_buffer if online_buffer is not None else prior_buffer
            return (to_device(buf.sample(n, self._generator_for(buf.device)), self.device),
                    n if buf is prior_buffer else 0)
        if prior_buffer.spec != online_buffer.spec or \
                prior_buffer.action_dim != online_buffer.action_dim:
            raise ValueError(f'prior buffer holds observations {prior_buffer.spec} and '
                             f'{prior_buffer.action_dim}-D actions, online buffer '
                             f'{online_buffer.spec} and {online_buffer.action_dim}-D actions')
        if mode == 'symmetric':
            n_prior = n // 2
        elif mode == 'seeded':
            total = len(online_buffer) + len(prior_buffer)
            draws = torch.randint(0, max(total, 1), (n,), generator=self.generator,
                                  device=self.device)
            n_prior = int((draws >= len(online_buffer)).sum())
        else:
            raise ValueError(f'unknown prior sampling mode {mode!r}')
        parts = [(online_buffer, n - n_prior), (prior_buffer, n_prior)]
        parts = [(b, k) for b, k in parts if k > 0]
        if len(parts) == 1:
            b, _ = parts[0]
            return (to_device(b.sample(n, self._generator_for(b.device)), self.device),
                    n if b is prior_buffer else 0)
        if online_buffer.device == prior_buffer.device:
            # Both parts gathered straight into one batch (no concatenation pass).
            batch = online_buffer.empty_batch(n)
            start = 0
            for b, k in parts:
                b.sample(k, self._generator_for(b.device),
                         out=ReplayBuffer.batch_slice(batch, start, start + k))
                start += k
            return to_device(batch, self.device), n_prior
        a, b = (to_device(buf.sample(k, self._generator_for(buf.device)), online_buffer.device)
                for buf, k in parts)
        batch = {k: (torch.cat([a[k], b[k]]) if not isinstance(a[k], dict) else
                     {j: torch.cat([a[k][j], b[k][j]]) for j in a[k]}) for k in a}
        return to_device(batch, self.device), n_prior

    def augment(self, obs):
        """Shift every image key randomly by up to ``image_shift`` px (DrQ; RLPD Table 1)."""
        if not self.encoder.has_images or self.config.image_shift == 0:
            return obs
        out = dict(obs)
        for k in self.encoder.images:
            out[k] = random_shift(obs[k], self.config.image_shift, self.generator)
        return out

    # ---------------------------------------------------------------- learning
    @property
    def offline_steps_left(self) -> int:
        """Gradient steps of the offline phase still to run (``config.offline_steps``)."""
        return max(0, self.config.offline_steps - self.offline_updates)

    @abc.abstractmethod
    def pretrain_step(self, prior_buffer: ReplayBuffer) -> Dict[str, float]:
        """One gradient step of the offline phase on ``prior_buffer`` alone; float metrics."""

    def pretrain(self, prior_buffer: Optional[ReplayBuffer], steps: Optional[int] = None,
                 callback=None) -> Dict[str, float]:
        """
        Run the offline phase: ``steps`` (default: all left) ``pretrain_step`` calls.

        Without prior data (None or empty) nothing runs. ``callback(metrics)`` is called after
        each step. Returns the last step's metrics ({} when none ran).
        """
        steps = self.offline_steps_left if steps is None else min(steps,
                                                                  self.offline_steps_left)
        metrics: Dict[str, float] = {}
        if prior_buffer is None or len(prior_buffer) == 0:
            return metrics
        for _ in range(steps):
            metrics = self.pretrain_step(prior_buffer)
            self.offline_updates += 1
            if callback is not None:
                callback(metrics)
        return metrics

    @abc.abstractmethod
    def update(self, online_buffer: ReplayBuffer,
               prior_buffer: Optional[ReplayBuffer] = None) -> Dict[str, float]:
        """
        Learn from the buffers for one env step; return float metrics.

        Raises ``ValueError`` when a buffer does not fit the agent and ``FloatingPointError``
        when a loss became NaN/inf.
        """

    # ---------------------------------------------------------------- state
    def _modules(self) -> Dict[str, torch.nn.Module]:
        """Modules saved by name in ``state_dict`` (the policy holds the encoder)."""
        return {'policy': self.policy}

    def _optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        return {}

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        """
        Return everything needed to continue training.

        The agent's name, networks, optimizers, counters, generator state and the config (for
        a consistency check on load).
        """
        return {'version': STATE_VERSION, 'agent': self.name, 'config': self.config.to_dict(),
                'policy_config': self.policy_config(),
                **{k: m.state_dict() for k, m in self._modules().items()},
                **{k: o.state_dict() for k, o in self._optimizers().items()},
                'critic_updates': self.critic_updates, 'actor_updates': self.actor_updates,
                'offline_updates': self.offline_updates,
                'generator': self.generator.get_state(), **self._extra_state()}

    def load_state_dict(self, state: dict) -> None:
        """
        Restore from ``state_dict()``.

        Raises ``ValueError`` when the state is another agent's, or its networks do not fit
        this agent (different observation layout, action size or network shape).
        """
        if state.get('version') == 1:  # before serl_agent had other agents: RLPD's
            state = {**state, 'version': STATE_VERSION, 'agent': 'rlpd', 'offline_updates': 0}
        if state.get('version') != STATE_VERSION:
            raise ValueError(f'agent state version {state.get("version")!r}, expected '
                             f'{STATE_VERSION}')
        if state.get('agent') != self.name:
            raise ValueError(f'saved state is of agent {state.get("agent")!r}, this agent is '
                             f'{self.name!r}')
        if state['policy_config'] != self.policy_config():
            raise ValueError('saved policy config differs from this agent: saved '
                             f'{state["policy_config"]}, here {self.policy_config()}')
        try:
            for k, m in self._modules().items():
                m.load_state_dict(state[k])
        except RuntimeError as e:
            raise ValueError(f'saved networks do not fit this agent: {e}') from e
        for k, o in self._optimizers().items():
            o.load_state_dict(state[k])
        self.critic_updates = int(state['critic_updates'])
        self.actor_updates = int(state['actor_updates'])
        self.offline_updates = int(state['offline_updates'])
        self._load_extra_state(state)
        try:
            self.generator.set_state(state['generator'])
        except RuntimeError:  # saved on another device type: keep this run's own stream
            pass
