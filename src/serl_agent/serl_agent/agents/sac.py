"""
Soft Actor-Critic over a critic ensemble (Haarnoja et al. 2018, arXiv 1812.05905), in torch.

The one update rule that SAC, RLPD and AWAC's critic share; their configs say how it is run.
One ``update()`` call is the inner loop of RLPD's Alg. 1 (Ball et al. 2023, arXiv 2302.02948)
for one env step, which with E = 2, Z = 2, G = 1 and no LayerNorm is SAC's:

for g = 1..G (``utd_ratio``):
    b = N transitions: online and prior as ``prior_sampling`` says (RLPD: N/2 + N/2)
    Z = random subset of the E target critics (Z = 2 with clipped double Q, else 1)
    a' ~ pi(.|s')
    y = r + gamma (1 - terminated) (min_{i in Z} Q'_i(s', a') - alpha log pi(a'|s'))
    each critic i minimises (1/N) sum_b (y - Q_i(s, a))^2
    Q'_i <- rho Q_i + (1 - rho) Q'_i
then, with the last b:
    pi maximises (1/E) sum_i Q_i(s, a~) - alpha log pi(a~|s), a~ ~ pi(.|s)   (SAC Eq. 7)
    alpha minimises alpha (H(pi(.|s)) - H_target)   (SAC Eq. 18)

Fixes over SERL's sac.py: the entropy term sits inside the discount and the terminal mask
(it is part of the soft value of s'), and only ``terminated`` cuts the bootstrap: time limits
(``truncated``) bootstrap. RLPD's Alg. 1 prints "+ alpha log pi" in the target; the soft value
is "- alpha log pi" (SAC Eq. 3), which is what is implemented.
"""

import copy
import math
import os
import shutil
from typing import Dict, Optional
import warnings

import gymnasium as gym
from serl_agent.agents.base import adam, Agent, finite_metrics
from serl_agent.agents.config import SACConfig
from serl_agent.data.replay import Batch, ReplayBuffer
from serl_agent.networks import CriticEnsemble, tanh_gaussian_from_noise, tanh_gaussian_sample
import torch

# torch_compile='auto' compiles the critic step from this many multiply-adds per critic forward
# (E x N x sum of layer in x out) up: the default E = 10, 256 x 256, N = 256 has 1.8e8 and
# saves ~20 % CPU time there; serl_train's E = 2 has 3.7e7 and gains ~14 % updates/s
# (docs/benchmarks.md); small test networks stay eager (no warm-up).
COMPILE_MIN_MACS = 2e7


class SACAgent(Agent):
    """
    Tanh-Gaussian actor, critic ensemble, tuned temperature: SAC, and RLPD by its config.

    observation_space: ``Box`` or ``Dict`` of ``Box`` (uint8 HxWxC entries are images, encoded
    by a conv encoder shared by the critics and trained by the critic loss only, with DrQ
    random shifts). action_space: 1-D ``Box``; the agent works in normalised actions [-1, 1].
    config: ``SACConfig`` (or a subclass: ``RLPDConfig``, ``AWACConfig``). device: torch
    device for networks and math. seed: seeds this agent's torch generator (batch sampling,
    subsets, noise, shifts). Raises ``ValueError`` for a non-Box action space.
    """

    name = 'sac'
    config_class = SACConfig

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 config: Optional[SACConfig] = None, device='cpu', seed: Optional[int] = None):
        super().__init__(observation_space, action_space, config, device, seed)
        config = self.config
        self.target_entropy = (float(config.target_entropy) if config.target_entropy is not None
                               else config.TARGET_ENTROPY_PER_DIM * self.action_dim)
        self.critic = CriticEnsemble(self.encoder.feature_dim + self.action_dim,
                                     config.hidden_dims, config.num_critics,
                                     config.critic_layer_norm).to(self.device)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(config.init_temperature), device=self.device,
                                      requires_grad=True)

        self.critic_params = list(self.critic.parameters()) + list(self.encoder.parameters())
        self.target_params = (list(self.target_critic.parameters())
                              + list(self.target_encoder.parameters()))
        self.critic_optimizer = adam(self.critic_params, config.critic_lr)
        self.actor_optimizer = adam(self.policy.head.parameters(), config.actor_lr,
                                    getattr(config, 'actor_weight_decay', 0.0))
        self.temperature_optimizer = adam([self.log_alpha], config.temperature_lr)
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

    @property
    def temperature(self) -> float:
        """Return the current entropy temperature alpha."""
        return float(self.log_alpha.detach().exp())

    def _statistics_changed(self) -> None:
        # The target encoder normalises with the same statistics (they are not learnt).
        with torch.no_grad():
            for name, buf in self.encoder.normalizer.named_buffers():
                self.target_encoder.normalizer.get_buffer(name).copy_(buf)

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
        next_q = next_q.float()  # the target in fp32 whatever the products' precision
        if c.entropy_backup:
            next_q = next_q - self.log_alpha.exp() * next_log_prob.float()
        return c.reward_scale * rewards + c.discount * (1.0 - terminated) * next_q

    def compute_target(self, batch: Batch) -> torch.Tensor:
        """
        Soft TD target y (B,) of Alg. 1 (no gradient).

        y = c r + gamma (1 - terminated) (min_{i in Z} Q'_i(s', a') - alpha log pi(a'|s')),
        c = ``reward_scale``;
        a' ~ pi(.|s'); the entropy term only with ``entropy_backup``. Z is a fresh random
        subset of ``effective_subset_size`` target critics; only those are evaluated.
        """
        with torch.no_grad(), self.autocast():
            eps, subset = self._draw_target_noise(batch['rewards'].shape[0])
            return self._target(batch['next_observations'], batch['rewards'],
                                batch['terminated'], eps, subset)

    def _critic_loss(self, observations, actions, rewards, terminated, next_observations, eps,
                     subset):
        """
        Target (no gradient) and the ensemble's loss: one graph for ``torch.compile``.

        Forward passes at ``self.precision`` (bf16 autocast or fp32); target and loss in fp32.
        """
        with self.autocast():
            with torch.no_grad():
                target = self._target(next_observations, rewards, terminated, eps, subset)
            q = self.critic(self.encoder(observations), actions).float()  # (E, B)
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
            obs, next_obs = self.augment(obs), self.augment(next_obs)
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

        Policy loss: mean_b [alpha log pi(a~|s) - (1/E) sum_i Q_i(s, a~)], plus
        ``actor_bc_weight`` x the mean over the batch's prior rows of ||tanh(mu(s)) - a||^2
        (``actor_bc_action`` 'mean') or ||a~ - a||^2 ('sample') when that weight is > 0
        (TD3+BC Eq. 3); the encoder and critics get no gradient from it. Temperature loss:
        alpha (H - H_target) with H = -mean_b log pi(a~|s), so alpha falls when the entropy is
        above target.
        """
        with self.autocast():
            with torch.no_grad():
                features = self.encoder(self.augment(batch['observations']))
            mean, log_std = self.policy.head(features)
            mean, log_std = mean.float(), log_std.float()
            actions, log_prob = tanh_gaussian_sample(mean, log_std, self.generator)
            self.critic.requires_grad_(False)
            try:
                q = self.critic(features, actions).float().mean(dim=0)
            finally:
                self.critic.requires_grad_(True)
        alpha = self.log_alpha.detach().exp()
        actor_loss = (alpha * log_prob - q).mean()
        metrics = {}
        prior = batch.get('prior')
        if self.config.actor_bc_weight > 0 and prior is not None and bool(prior.any()):
            # TD3+BC's term on the prior rows: the actor's action toward the demo action
            own = torch.tanh(mean) if self.config.actor_bc_action == 'mean' else actions
            bc = (own[prior] - batch['actions'][prior]).square().sum(-1).mean()
            actor_loss = actor_loss + self.config.actor_bc_weight * bc
            metrics['actor_bc_loss'] = bc.detach()
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
                'temperature_loss': temperature_loss.detach(), **metrics}

    def bc_actor_step(self, batch: Batch) -> Dict[str, torch.Tensor]:
        """
        One actor step of behaviour cloning: minimise mean_b ||tanh(mu(s_b)) - a_b||^2.

        The offline phase's warm start with ``offline_actor: bc``: the deterministic action
        regressed onto the batch's actions (TD3+BC's and IBRL's BC objective; the likelihood,
        with RLPD's log-std floor of -20, drove the std down and left the mean unfit: 0 % at
        step 0 in the first benchmark run). The std is left to the online temperature; no
        temperature step.
        """
        with self.autocast():
            with torch.no_grad():
                features = self.encoder(self.augment(batch['observations']))
            mean, _ = self.policy.head(features)
        loss = (torch.tanh(mean.float()) - batch['actions']).square().sum(-1).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_optimizer.step()
        self.actor_updates += 1
        return {'actor_loss': loss.detach()}

    def _gradient_steps(self, online_buffer: Optional[ReplayBuffer],
                        prior_buffer: Optional[ReplayBuffer], mode: str,
                        actor_step=None) -> Dict[str, float]:
        """G critic steps on fresh batches, then one actor step on the last batch."""
        sums: Dict[str, torch.Tensor] = {}
        for _ in range(self.config.utd_ratio):
            batch = self.sample_batch(online_buffer, prior_buffer, mode)
            for k, v in self.critic_step(batch).items():
                sums[k] = sums[k] + v if k in sums else v
        means = {k: v / self.config.utd_ratio for k, v in sums.items()}
        means.update((actor_step or self.actor_temperature_step)(batch))
        # One device-to-host transfer for all metrics (no sync inside the G critic steps).
        metrics = finite_metrics(means, self.critic_updates)
        metrics['critic_updates'] = float(self.critic_updates)
        metrics['actor_updates'] = float(self.actor_updates)
        return metrics

    def update(self, online_buffer: ReplayBuffer,
               prior_buffer: Optional[ReplayBuffer] = None) -> Dict[str, float]:
        """
        Run G = ``utd_ratio`` critic steps, then one actor and temperature step (Alg. 1).

        Each critic step uses a fresh batch (online and prior as ``config.prior_sampling``
        says: RLPD's N/2 online + N/2 prior); the actor and temperature step uses the last
        batch.

        Returns metrics as floats: critic_loss, q_mean, target_mean (means over the G steps),
        actor_loss, entropy, temperature, temperature_loss, critic_updates, actor_updates.
        Raises ``ValueError`` when a buffer's observation layout or action size differs from
        the agent's, and ``FloatingPointError`` when a loss became NaN/inf (diverged).
        """
        self.check_buffers(online_buffer=online_buffer, demo_buffer=prior_buffer)
        return self._gradient_steps(online_buffer, prior_buffer, self.config.prior_sampling)

    def pretrain_step(self, prior_buffer: ReplayBuffer) -> Dict[str, float]:
        """
        One ``update`` on batches of prior data alone (the offline phase).

        With ``offline_actor: bc`` the actor step is ``bc_actor_step`` (the critics still learn
        by TD).
        """
        self.check_buffers(prior_buffer=prior_buffer)
        bc = self.config.offline_actor == 'bc'
        return self._gradient_steps(None, prior_buffer, 'online',
                                    self.bc_actor_step if bc else None)

    # ---------------------------------------------------------------- state
    def _modules(self):
        return {'policy': self.policy, 'critic': self.critic,
                'target_critic': self.target_critic, 'target_encoder': self.target_encoder}

    def _optimizers(self):
        return {'critic_optimizer': self.critic_optimizer,
                'actor_optimizer': self.actor_optimizer,
                'temperature_optimizer': self.temperature_optimizer}

    def _extra_state(self) -> dict:
        return {'log_alpha': self.log_alpha.detach().clone()}

    def _load_extra_state(self, state: dict) -> None:
        with torch.no_grad():
            self.log_alpha.copy_(state['log_alpha'])
