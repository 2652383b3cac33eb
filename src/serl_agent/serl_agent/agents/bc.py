"""
Behaviour cloning: the tanh-Gaussian policy fit to prior actions by maximum likelihood.

    theta <- argmax_theta E_{(s, a) ~ D} [ log pi_theta(a|s) ]

over the prior data D (demos), in ``offline_steps`` gradient steps of batches of N (the offline
phase); the encoder learns with the policy. There is no online learning: ``update`` does
nothing and ``learns_online`` is False, so a training loop only evaluates the cloned policy
(the BC baseline of RLPD, Ball et al. 2023, Sec. 5, and of AWAC, Nair et al. 2020, Sec. 5).
"""

from typing import Dict, Optional

from serl_agent.agents.base import adam, Agent, finite_metrics
from serl_agent.agents.config import BCConfig
from serl_agent.data.replay import Batch, ReplayBuffer
from serl_agent.networks import tanh_gaussian_log_prob


class BCAgent(Agent):
    """Behaviour cloning (``BCConfig``); see ``serl_agent.agents.base.Agent`` for arguments."""

    name = 'bc'
    config_class = BCConfig
    learns_online = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor_optimizer = adam(self.policy.parameters(), self.config.actor_lr)

    def log_likelihood(self, batch: Batch):
        """Mean log pi(a|s) (scalar tensor) of the batch's actions under the policy."""
        with self.autocast():
            mean, log_std = self.policy(self.augment(batch['observations']))
        return tanh_gaussian_log_prob(mean.float(), log_std.float(), batch['actions']).mean()

    def pretrain_step(self, prior_buffer: ReplayBuffer) -> Dict[str, float]:
        """One maximum-likelihood step on a batch of N prior transitions; float metrics."""
        self.check_buffers(prior_buffer=prior_buffer)
        log_prob = self.log_likelihood(self.sample_batch(None, prior_buffer))
        loss = -log_prob
        self.actor_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_optimizer.step()
        self.actor_updates += 1
        metrics = finite_metrics({'actor_loss': loss.detach(), 'log_prob': log_prob.detach()},
                                 self.actor_updates)
        metrics['actor_updates'] = float(self.actor_updates)
        return metrics

    def update(self, online_buffer: ReplayBuffer,
               prior_buffer: Optional[ReplayBuffer] = None) -> Dict[str, float]:
        """Learn nothing online (BC); returns the counters only."""
        self.check_buffers(online_buffer=online_buffer, demo_buffer=prior_buffer)
        return {'critic_updates': 0.0, 'actor_updates': float(self.actor_updates)}

    def _optimizers(self):
        return {'actor_optimizer': self.actor_optimizer}
