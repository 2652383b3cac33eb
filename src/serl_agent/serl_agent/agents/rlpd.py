"""
RLPD agent (Ball et al. 2023, arXiv 2302.02948, Algorithm 1), in torch.

One ``update()`` call is the inner loop of Alg. 1 for one env step:

for g = 1..G (``utd_ratio``):
    b = N/2 transitions from the online buffer R + N/2 from the demo buffer D
    Z = random subset of the E target critics (Z = 2 with clipped double Q, else 1)
    a' ~ pi(.|s')
    y = r + gamma (1 - terminated) (min_{i in Z} Q'_i(s', a') - alpha log pi(a'|s'))
    each critic i minimises (1/N) sum_b (y - Q_i(s, a))^2
    Q'_i <- rho Q_i + (1 - rho) Q'_i
then, with the last b:
    pi maximises (1/E) sum_i Q_i(s, a~) - alpha log pi(a~|s), a~ ~ pi(.|s)
    alpha minimises alpha (H(pi(.|s)) - H_target)   (SAC, Haarnoja et al. 2018, Eq. 18)

Fixes over SERL's sac.py: the entropy term sits inside the discount and the terminal mask
(it is part of the soft value of s'), and only ``terminated`` cuts the bootstrap: time limits
(``truncated``) bootstrap. Alg. 1 prints "+ alpha log pi" in the target; the soft value is
"- alpha log pi" (SAC Eq. 3), which is what is implemented.
"""

import copy
import math
import os
import shutil
from typing import Dict, Optional
import warnings

import gymnasium as gym
import numpy as np
from serl_agent.agents.config import RLPDConfig
from serl_agent.data.replay import Batch, ReplayBuffer
from serl_agent.networks import (CriticEnsemble, observation_spec, ObservationEncoder, Policy,
                                 random_shift, tanh_gaussian_from_noise, tanh_gaussian_sample)
import torch

STATE_VERSION = 1
# torch_compile='auto' compiles the critic step from this many multiply-adds per critic forward
# (E x N x sum of layer in x out) up: the default E = 10, 256 x 256, N = 256 has 1.8e8 and
# saves ~20 % CPU time there; serl_train's E = 2 has 3.7e7 and gains ~14 % updates/s
# (docs/benchmarks.md); small test networks stay eager (no warm-up).
COMPILE_MIN_MACS = 2e7


def _adam(params, lr):
    """Fused Adam where this torch/device supports it, else the foreach implementation."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, foreach=True)


def _to(x, device):
    if isinstance(x, dict):
        return {k: _to(v, device) for k, v in x.items()}
    if x.device == device:
        return x
    if x.device.type == 'cpu' and device.type == 'cuda':
        x = x.pin_memory()  # page-locked (cached by torch), so the copy runs asynchronously
    return x.to(device, non_blocking=True)


class RLPDAgent:
    """
    Tanh-Gaussian actor, LayerNorm critic ensemble, tuned temperature (RLPD Alg. 1).

    observation_space: ``Box`` or ``Dict`` of ``Box`` (uint8 HxWxC entries are images, encoded
    by a conv encoder shared by the critics and trained by the critic loss only, with DrQ
    random shifts). action_space: 1-D ``Box``; the agent works in normalised actions [-1, 1].
    config: ``RLPDConfig`` (Table 1 defaults). device: torch device for networks and math.
    seed: seeds this agent's torch generator (batch sampling, subsets, noise, shifts).
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 config: Optional[RLPDConfig] = None, device='cpu', seed: Optional[int] = None):
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f'action_space must be a 1-D Box, got {action_space!r}')
        self.config = config = config if config is not None else RLPDConfig()
        self.device = torch.device(device)
        self.observation_space = observation_space
        self.action_space = action_space
        self.spec = observation_spec(observation_space)
        self.action_dim = int(action_space.shape[0])
        self.target_entropy = (float(config.target_entropy) if config.target_entropy is not None
                               else -self.action_dim / 2.0)  # Table 1: -|A|/2
        if seed is not None:
            torch.manual_seed(seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed) if seed is not None else
                                   int(torch.randint(0, 2**62, (1,)).item()))

        self.encoder = ObservationEncoder(self.spec, config.encoder_filters,
                                          config.encoder_latent_dim)
        self.policy = Policy(self.policy_config(), encoder=self.encoder)
        self.critic = CriticEnsemble(self.encoder.feature_dim + self.action_dim,
                                     config.hidden_dims, config.num_critics,
                                     config.critic_layer_norm)
        self.policy.to(self.device)
        self.critic.to(self.device)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(config.init_temperature), device=self.device,
                                      requires_grad=True)

        self.critic_params = list(self.critic.parameters()) + list(self.encoder.parameters())
        self.target_params = (list(self.target_critic.parameters())
                              + list(self.target_encoder.parameters()))
        self.critic_optimizer = _adam(self.critic_params, config.critic_lr)
        self.actor_optimizer = _adam(self.policy.head.parameters(), config.actor_lr)
        self.temperature_optimizer = _adam([self.log_alpha], config.temperature_lr)
        self.critic_updates = 0
        self.actor_updates = 0
        self._sample_generators: Dict[str, torch.Generator] = {}
        # torch.compile of target + loss (+ its backward); eager if it fails or is off.
        # On CPU the kernels are called from generated C++ (cpp_wrapper): ~3 % less CPU time
        # per critic update than inductor's Python wrapper (docs/benchmarks.md). On CUDA,
        # ``cuda_graphs`` replays forward and backward as CUDA graphs.
        self._cuda_graphs = self.device.type == 'cuda' and config.cuda_graphs
        options = ({'cpp_wrapper': True} if self.device.type == 'cpu' else
                   {'triton.cudagraphs': True} if self._cuda_graphs else None)
        self._compiled_critic_loss = (
            torch.compile(self._critic_loss, dynamic=False, options=options)
            if self._want_compile() else None)

    # ---------------------------------------------------------------- acting
    @property
    def temperature(self) -> float:
        """Return the current entropy temperature alpha."""
        return float(self.log_alpha.detach().exp())

    def act(self, obs, deterministic: bool = False) -> np.ndarray:
        """
        Numpy observation (one or a batch) -> float32 action(s) in [-1, 1].

        Stochastic: a ~ tanh(N(mean, std)); deterministic: tanh(mean).
        """
        return self.policy.act(obs, deterministic, generator=self.generator)

    def policy_config(self) -> dict:
        """JSON-able description that ``networks.build_policy`` turns into a ``Policy``."""
        c = self.config
        return {'format_version': 1, 'observation': self.spec, 'action_dim': self.action_dim,
                'hidden_dims': list(c.hidden_dims), 'log_std_min': c.log_std_min,
                'log_std_max': c.log_std_max, 'encoder_filters': c.encoder_filters,
                'encoder_latent_dim': c.encoder_latent_dim,
                'policy_init_scale': c.policy_init_scale}

    def policy_state_dict(self) -> Dict[str, torch.Tensor]:
        """Weights of the ``Policy`` (encoder + head), detached CPU copies."""
        return {k: v.detach().to('cpu', copy=True) for k, v in self.policy.state_dict().items()}

    # ---------------------------------------------------------------- learning
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

    def sample_batch(self, online_buffer: ReplayBuffer,
                     demo_buffer: Optional[ReplayBuffer] = None) -> Batch:
        """
        Sample one batch of N = ``batch_size`` transitions onto the agent's device.

        Exactly N/2 online then N/2 demo transitions (Alg. 1), or N online ones without a demo
        buffer.

        Raises ``ValueError`` when a buffer to sample from is empty, or when the two buffers
        hold different observation layouts or action sizes.
        """
        n = self.config.batch_size
        if demo_buffer is not None and (demo_buffer.spec != online_buffer.spec
                                        or demo_buffer.action_dim != online_buffer.action_dim):
            raise ValueError(f'demo_buffer holds observations {demo_buffer.spec} and '
                             f'{demo_buffer.action_dim}-D actions, online_buffer '
                             f'{online_buffer.spec} and {online_buffer.action_dim}-D actions')
        if demo_buffer is None:
            batch = online_buffer.sample(n, self._generator_for(online_buffer.device))
        elif online_buffer.device == demo_buffer.device:
            # Both halves gathered straight into one batch (no concatenation pass).
            batch = online_buffer.empty_batch(n)
            online_buffer.sample(n // 2, self._generator_for(online_buffer.device),
                                 out=ReplayBuffer.batch_slice(batch, 0, n // 2))
            demo_buffer.sample(n // 2, self._generator_for(demo_buffer.device),
                               out=ReplayBuffer.batch_slice(batch, n // 2, n))
        else:
            a = online_buffer.sample(n // 2, self._generator_for(online_buffer.device))
            b = _to(demo_buffer.sample(n // 2, self._generator_for(demo_buffer.device)),
                    online_buffer.device)
            batch = {k: (torch.cat([a[k], b[k]]) if not isinstance(a[k], dict) else
                         {j: torch.cat([a[k][j], b[k][j]]) for j in a[k]}) for k in a}
        return _to(batch, self.device)

    def _augment(self, obs):
        if not self.encoder.has_images or self.config.image_shift == 0:
            return obs
        out = dict(obs)
        for k in self.encoder.images:
            out[k] = random_shift(obs[k], self.config.image_shift, self.generator)
        return out

    def _draw_target_noise(self, batch_size: int):
        """Policy noise eps (B, A) for a' ~ pi(.|s'), then the subset Z of target critics."""
        eps = torch.randn((batch_size, self.action_dim), device=self.device,
                          generator=self.generator)
        subset = torch.randperm(self.config.num_critics, generator=self.generator,
                                device=self.device)[:self.config.effective_subset_size]
        return eps, subset

    def _target(self, next_obs, rewards, terminated, eps, subset) -> torch.Tensor:
        c = self.config
        next_features = self.encoder(next_obs)
        mean, log_std = self.policy.head(next_features)
        next_actions, next_log_prob = tanh_gaussian_from_noise(mean, log_std, eps)
        target_features = (self.target_encoder(next_obs) if self.encoder.has_images
                           else next_features)
        next_q = self.target_critic(target_features, next_actions, subset).min(dim=0).values
        if c.entropy_backup:
            next_q = next_q - self.log_alpha.exp() * next_log_prob
        return rewards + c.discount * (1.0 - terminated) * next_q

    def compute_target(self, batch: Batch) -> torch.Tensor:
        """
        Soft TD target y (B,) of Alg. 1 (no gradient).

        y = r + gamma (1 - terminated) (min_{i in Z} Q'_i(s', a') - alpha log pi(a'|s')),
        a' ~ pi(.|s'); the entropy term only with ``entropy_backup``. Z is a fresh random
        subset of ``effective_subset_size`` target critics; only those are evaluated.
        """
        with torch.no_grad():
            eps, subset = self._draw_target_noise(batch['rewards'].shape[0])
            return self._target(batch['next_observations'], batch['rewards'],
                                batch['terminated'], eps, subset)

    def _critic_loss(self, observations, actions, rewards, terminated, next_observations, eps,
                     subset):
        """Target (no gradient) and the ensemble's loss: one graph for ``torch.compile``."""
        with torch.no_grad():
            target = self._target(next_observations, rewards, terminated, eps, subset)
        q = self.critic(self.encoder(observations), actions)  # (E, B)
        # Each critic's own mean squared error (Alg. 1), summed so each gets its own gradient.
        per_critic = (q - target.unsqueeze(0)).square().mean(dim=1)
        return per_critic.sum(), per_critic.detach().mean(), q.detach().mean(), target.mean()

    def _want_compile(self) -> bool:
        """``config.torch_compile`` resolved: 'auto' compiles large critics where it can."""
        choice = self.config.torch_compile
        if choice != 'auto':
            return bool(choice)
        dims = [self.encoder.feature_dim + self.action_dim, *self.config.hidden_dims, 1]
        macs = (self.config.num_critics * self.config.batch_size
                * sum(a * b for a, b in zip(dims[:-1], dims[1:])))
        if macs < COMPILE_MIN_MACS:
            return False
        if self.device.type == 'cuda':
            from torch.utils._triton import has_triton
            return has_triton()
        return self.device.type == 'cpu' and any(
            shutil.which(cxx) for cxx in (os.environ.get('CXX', 'g++'), 'g++', 'clang++'))

    @property
    def critic_compiled(self) -> bool:
        """Whether critic steps run through ``torch.compile`` (False after a fallback)."""
        return self._compiled_critic_loss is not None

    def _critic_forward_backward(self, args):
        """Critic loss and its gradients; the compiled graph if it works, else eager."""
        if self._compiled_critic_loss is not None:
            try:
                if self._cuda_graphs:
                    # A new graph replay reuses the previous one's output memory: mark the
                    # step, and copy the metrics out before the next step overwrites them.
                    torch.compiler.cudagraph_mark_step_begin()
                out = self._compiled_critic_loss(*args)
                out[0].backward()
                return (out[0], *(o.clone() for o in out[1:])) if self._cuda_graphs else out
            except Exception as e:  # noqa: B902 - any compile failure falls back to eager
                warnings.warn(f'torch.compile of the critic step failed ({type(e).__name__}: '
                              f'{e}); continuing in eager mode')
                self._compiled_critic_loss = None
                self.critic_optimizer.zero_grad(set_to_none=True)
        out = self._critic_loss(*args)
        out[0].backward()
        return out

    def critic_step(self, batch: Batch) -> Dict[str, torch.Tensor]:
        """
        One critic (and shared image encoder) gradient step and target EMA update (Alg. 1).

        The target is ``compute_target``'s (same noise draws, in the same order); the loss is
        the sum over critics of each critic's mean squared TD error.
        """
        obs, next_obs = batch['observations'], batch['next_observations']
        if self.encoder.has_images:
            obs, next_obs = self._augment(obs), self._augment(next_obs)
        eps, subset = self._draw_target_noise(batch['rewards'].shape[0])
        self.critic_optimizer.zero_grad(set_to_none=True)
        _, mean_loss, q_mean, target_mean = self._critic_forward_backward(
            (obs, batch['actions'], batch['rewards'], batch['terminated'], next_obs, eps,
             subset))
        self.critic_optimizer.step()
        with torch.no_grad():  # Q' <- rho Q + (1 - rho) Q', in place (Alg. 1)
            torch._foreach_lerp_(self.target_params, self.critic_params, self.config.tau)
        self.critic_updates += 1
        return {'critic_loss': mean_loss, 'q_mean': q_mean, 'target_mean': target_mean}

    def actor_temperature_step(self, batch: Batch) -> Dict[str, torch.Tensor]:
        """
        One policy step and one temperature step on ``batch`` (Alg. 1; SAC Eq. 7, 18).

        Policy loss: mean_b [alpha log pi(a~|s) - (1/E) sum_i Q_i(s, a~)]; the encoder and
        critics get no gradient from it. Temperature loss: alpha (H - H_target) with
        H = -mean_b log pi(a~|s), so alpha falls when the entropy is above target.
        """
        with torch.no_grad():
            features = self.encoder(self._augment(batch['observations']))
        mean, log_std = self.policy.head(features)
        actions, log_prob = tanh_gaussian_sample(mean, log_std, self.generator)
        self.critic.requires_grad_(False)
        try:
            q = self.critic(features, actions).mean(dim=0)
        finally:
            self.critic.requires_grad_(True)
        alpha = self.log_alpha.detach().exp()
        actor_loss = (alpha * log_prob - q).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        entropy = -log_prob.detach().mean()
        temperature_loss = self.log_alpha.exp() * (entropy - self.target_entropy)
        self.temperature_optimizer.zero_grad(set_to_none=True)
        temperature_loss.backward()
        self.temperature_optimizer.step()
        self.actor_updates += 1
        return {'actor_loss': actor_loss.detach(), 'entropy': entropy,
                'temperature': self.log_alpha.detach().exp(),
                'temperature_loss': temperature_loss.detach()}

    def update(self, online_buffer: ReplayBuffer,
               demo_buffer: Optional[ReplayBuffer] = None) -> Dict[str, float]:
        """
        Run G = ``utd_ratio`` critic steps, then one actor and temperature step (Alg. 1).

        Each critic step uses a fresh batch (N/2 online + N/2 demo when a demo buffer is
        given); the actor and temperature step uses the last batch.

        Returns metrics as floats: critic_loss, q_mean, target_mean (means over the G steps),
        actor_loss, entropy, temperature, temperature_loss, critic_updates, actor_updates.
        Raises ``ValueError`` when a buffer's observation layout or action size differs from
        the agent's, and ``FloatingPointError`` when a loss became NaN/inf (diverged).
        """
        for name, buf in (('online_buffer', online_buffer), ('demo_buffer', demo_buffer)):
            if buf is not None and (buf.spec != self.spec or buf.action_dim != self.action_dim):
                raise ValueError(f'{name} holds observations {buf.spec} and {buf.action_dim}-D '
                                 f'actions; this agent expects {self.spec} and '
                                 f'{self.action_dim}-D actions')
        sums: Dict[str, torch.Tensor] = {}
        for _ in range(self.config.utd_ratio):
            batch = self.sample_batch(online_buffer, demo_buffer)
            for k, v in self.critic_step(batch).items():
                sums[k] = sums[k] + v if k in sums else v
        means = {k: v / self.config.utd_ratio for k, v in sums.items()}
        means.update(self.actor_temperature_step(batch))
        # One device-to-host transfer for all metrics (no sync inside the G critic steps).
        values = torch.stack([v.detach().float().reshape(()) for v in means.values()]).tolist()
        metrics = dict(zip(means, values))
        bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
        if bad:
            raise FloatingPointError(
                f'non-finite {bad} after update {self.critic_updates} (metrics {metrics}): the '
                f'networks are no longer usable; do not publish or checkpoint them, restart '
                f'from the last checkpoint (check rewards and observations for huge values)')
        metrics['critic_updates'] = float(self.critic_updates)
        metrics['actor_updates'] = float(self.actor_updates)
        return metrics

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """
        Return everything needed to continue training.

        Networks, targets, optimizers, temperature, counters, generator state and the config
        (for a consistency check on load).
        """
        return {'version': STATE_VERSION, 'config': self.config.to_dict(),
                'policy_config': self.policy_config(),
                'policy': self.policy.state_dict(), 'critic': self.critic.state_dict(),
                'target_critic': self.target_critic.state_dict(),
                'target_encoder': self.target_encoder.state_dict(),
                'log_alpha': self.log_alpha.detach().clone(),
                'critic_optimizer': self.critic_optimizer.state_dict(),
                'actor_optimizer': self.actor_optimizer.state_dict(),
                'temperature_optimizer': self.temperature_optimizer.state_dict(),
                'critic_updates': self.critic_updates, 'actor_updates': self.actor_updates,
                'generator': self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """
        Restore from ``state_dict()``.

        Raises ``ValueError`` when the saved networks do not fit this agent (different
        observation layout, action size or network shape).
        """
        if state.get('version') != STATE_VERSION:
            raise ValueError(f'agent state version {state.get("version")!r}, expected '
                             f'{STATE_VERSION}')
        if state['policy_config'] != self.policy_config():
            raise ValueError('saved policy config differs from this agent: saved '
                             f'{state["policy_config"]}, here {self.policy_config()}')
        try:
            self.policy.load_state_dict(state['policy'])
            self.critic.load_state_dict(state['critic'])
            self.target_critic.load_state_dict(state['target_critic'])
            self.target_encoder.load_state_dict(state['target_encoder'])
        except RuntimeError as e:
            raise ValueError(f'saved networks do not fit this agent: {e}') from e
        with torch.no_grad():
            self.log_alpha.copy_(state['log_alpha'])
        self.critic_optimizer.load_state_dict(state['critic_optimizer'])
        self.actor_optimizer.load_state_dict(state['actor_optimizer'])
        self.temperature_optimizer.load_state_dict(state['temperature_optimizer'])
        self.critic_updates = int(state['critic_updates'])
        self.actor_updates = int(state['actor_updates'])
        try:
            self.generator.set_state(state['generator'])
        except RuntimeError:  # saved on another device type: keep this run's own stream
            pass
