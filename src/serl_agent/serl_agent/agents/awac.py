"""
AWAC agent (Nair et al. 2020, arXiv 2006.09359, Algorithm 1).

"AWAC: Accelerating Online Reinforcement Learning with Offline Datasets".

The critics learn by TD as SAC's do, without the entropy term (``AWACConfig.entropy_backup``
false); the actor is fit to the actions in the buffer, weighted by how much better than the
policy's own they are (Eq. 13):

    theta <- argmax_theta E_{(s, a) ~ beta} [ log pi_theta(a|s) w(s, a) ]
    A(s, a) = Q(s, a) - V(s),  V(s) = Q(s, a~),  a~ ~ pi(.|s)    (one sample, Sec. 4)
    w(s, a) = exp(A(s, a) / lambda)

Q is the minimum over the critics with clipped double Q (else their mean). With
``normalize_weights`` the weights are a softmax over the batch times N (they average 1), as the
authors' implementation normalises them (rlkit ``AWACTrainer``); else the raw weights, clipped at
``max_weight``. The offline phase runs ``offline_steps`` such updates on the prior data alone;
online, the prior data stays in the buffer (``prior_sampling: seeded``).
"""

from typing import Dict

from serl_agent.agents.config import AWACConfig
from serl_agent.agents.sac import SACAgent
from serl_agent.data.replay import Batch
from serl_agent.networks import tanh_gaussian_log_prob, tanh_gaussian_sample
import torch


class AWACAgent(SACAgent):
    """SAC's critics with AWAC's actor (``AWACConfig``); see ``SACAgent`` for the arguments."""

    name = 'awac'
    config_class = AWACConfig

    @property
    def temperature(self) -> float:
        """Return 0: AWAC has no entropy term (alpha = 0)."""
        return 0.0

    def q_value(self, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q(s, a) (B,): the minimum over the critics with clipped double Q, else their mean."""
        q = self.critic(features, actions).float()
        return q.min(dim=0).values if self.config.clipped_double_q else q.mean(dim=0)

    def advantage_weights(self, features: torch.Tensor, actions: torch.Tensor
                          ) -> Dict[str, torch.Tensor]:
        """
        Advantages A(s, a) (B,) of buffer actions and their weights w (B,) (Eq. 13; no grad).

        features (B, D) float32, actions (B, A) in [-1, 1]. V(s) = Q(s, a~) with one
        a~ ~ pi(.|s). w = N softmax_b(A / lambda) when normalised, else
        min(exp(A / lambda), max_weight).
        """
        c = self.config
        with torch.no_grad(), self.autocast():
            mean, log_std = self.policy.head(features)
            mean, log_std = mean.float(), log_std.float()
            policy_actions, _ = tanh_gaussian_sample(mean, log_std, self.generator)
            advantages = self.q_value(features, actions) - self.q_value(features, policy_actions)
            scores = advantages / c.awac_lambda
            if c.normalize_weights:
                weights = torch.softmax(scores, dim=0) * scores.shape[0]
            else:
                weights = scores.exp().clamp(max=c.max_weight)
        return {'advantages': advantages, 'weights': weights}

    def actor_temperature_step(self, batch: Batch) -> Dict[str, torch.Tensor]:
        """
        One actor step: maximise mean_b [log pi(a_b|s_b) w_b] over the batch's actions (Eq. 13).

        The encoder and critics get no gradient from it; there is no temperature to tune.
        """
        with torch.no_grad(), self.autocast():
            features = self.encoder(self.augment(batch['observations']))
        aw = self.advantage_weights(features, batch['actions'])
        with self.autocast():
            mean, log_std = self.policy.head(features)
        mean, log_std = mean.float(), log_std.float()
        log_prob = tanh_gaussian_log_prob(mean, log_std, batch['actions'])
        actor_loss = -(log_prob * aw['weights']).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()
        self.actor_updates += 1
        return {'actor_loss': actor_loss.detach(), 'log_prob': log_prob.detach().mean(),
                'advantage_mean': aw['advantages'].mean(), 'weight_max': aw['weights'].max()}
