"""RLPD math on hand-set tiny networks: target, subset, 50/50 batches, temperature, EMA."""

import math

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.data.replay import ReplayBuffer
from serl_agent.networks import CriticEnsemble, tanh_gaussian_sample
import torch
import torch.nn.functional as F


pytestmark = pytest.mark.usefixtures('one_torch_thread')


OBS = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
ACT = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)


def make_agent(**overrides):
    cfg = {'batch_size': 8, 'num_critics': 2, 'critic_subset_size': 2, 'hidden_dims': (4,),
           'utd_ratio': 1}
    cfg.update(overrides)
    return RLPDAgent(OBS, ACT, RLPDConfig(**cfg), seed=0)


def set_policy(agent, mean, log_std):
    """Make the policy output a constant pre-tanh mean and log-std for every state."""
    with torch.no_grad():
        agent.policy.head.out.weight.zero_()
        agent.policy.head.out.bias.copy_(torch.tensor([mean, log_std]))


def set_constant_critics(ensemble, values):
    """Make critic i output values[i] for every (s, a)."""
    with torch.no_grad():
        for w in ensemble.weights:
            w.zero_()
        for b in ensemble.biases:
            b.zero_()
        ensemble.biases[-1].copy_(torch.tensor(values, dtype=torch.float32).view(-1, 1, 1))


def make_batch(rewards, terminated, truncated):
    n = len(rewards)
    return {'observations': torch.zeros(n, 2), 'next_observations': torch.ones(n, 2),
            'actions': torch.zeros(n, 1), 'rewards': torch.tensor(rewards),
            'terminated': torch.tensor(terminated), 'truncated': torch.tensor(truncated)}


def expected_log_prob(agent, n, mean, log_std):
    """Log pi(a'|s') by hand: the noise is re-drawn from a copy of the agent's generator."""
    g = torch.Generator()
    g.set_state(agent.generator.get_state())
    eps = torch.randn((n, 1), generator=g).numpy()[:, 0].astype(np.float64)
    u = mean + math.exp(log_std) * eps
    log_n = -0.5 * eps ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    return log_n - np.log(1.0 - np.tanh(u) ** 2)


@pytest.mark.parametrize('entropy_backup', [True, False])
def test_target_value_discount_entropy_and_termination(entropy_backup):
    agent = make_agent(entropy_backup=entropy_backup, init_temperature=0.5, discount=0.9)
    set_policy(agent, mean=0.3, log_std=-1.0)
    set_constant_critics(agent.target_critic, [2.0, 3.0])
    batch = make_batch([1.0, 1.0, -0.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    log_pi = expected_log_prob(agent, 3, 0.3, -1.0)
    y = agent.compute_target(batch).numpy()
    soft_v = 2.0 - (0.5 * log_pi if entropy_backup else 0.0 * log_pi)  # min(2, 3) - alpha log pi
    expected = np.array([1.0 + 0.9 * soft_v[0],
                         1.0,                       # terminated: no value, no entropy term
                         -0.5 + 0.9 * soft_v[2]])   # truncated: bootstraps like any step
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_only_z_random_target_critics_are_evaluated():
    agent = make_agent(num_critics=10, critic_subset_size=2)
    seen = []
    forward = agent.target_critic.forward

    def spy(features, actions, indices=None):
        seen.append(None if indices is None else indices.tolist())
        return forward(features, actions, indices)

    agent.target_critic.forward = spy
    batch = make_batch([0.0] * 4, [0.0] * 4, [0.0] * 4)
    for _ in range(600):
        agent.compute_target(batch)
    assert all(s is not None and len(s) == 2 and len(set(s)) == 2 for s in seen)
    pairs = {tuple(sorted(s)) for s in seen}
    assert len(pairs) == 45  # every pair of 10 critics gets drawn (fixed seed; p(miss) ~ 1e-4)
    counts = np.bincount(np.array(seen).ravel(), minlength=10)
    assert counts.min() > 0.6 * counts.mean()


def test_min_over_subset_and_no_clipped_double_q_uses_one_critic():
    values = [float(i) for i in range(10)]
    batch = make_batch([0.0] * 2, [0.0] * 2, [0.0] * 2)
    for cdq, z in ((True, 2), (False, 1)):
        agent = make_agent(num_critics=10, critic_subset_size=2, clipped_double_q=cdq,
                           entropy_backup=False, discount=0.5)
        set_constant_critics(agent.target_critic, values)
        draws = np.array([agent.compute_target(batch)[0].item() / 0.5 for _ in range(1000)])
        # Min of a random Z-subset of {0..9}: P(min = 0) = 1 - C(9, Z) / C(10, Z).
        p0 = 1.0 - math.comb(9, z) / math.comb(10, z)
        assert abs((draws == 0.0).mean() - p0) < 0.04, (cdq, (draws == 0.0).mean(), p0)
        assert set(np.unique(draws)) <= set(values)


def test_batch_is_exactly_half_online_half_demo():
    agent = make_agent(batch_size=16, utd_ratio=5)
    online, demo = ReplayBuffer(OBS, ACT, 50), ReplayBuffer(OBS, ACT, 50)
    for i in range(20):
        online.insert([0, i], [0.1], 0.0, [0, i], False, False)
        demo.insert([1, i], [0.1], 1.0, [1, i], False, False)
    batches = []
    step = agent.critic_step

    def spy(batch):
        batches.append(batch)
        return step(batch)

    agent.critic_step = spy
    metrics = agent.update(online, demo)
    assert len(batches) == 5  # G fresh batches, one per critic update
    for b in batches:
        assert b['rewards'].shape == (16,)
        assert b['rewards'][:8].sum() == 0 and b['rewards'][8:].sum() == 8
        assert (b['observations'][:8, 0] == 0).all() and (b['observations'][8:, 0] == 1).all()
    assert len({tuple(b['observations'][:, 1].tolist()) for b in batches}) == 5
    assert metrics['critic_updates'] == 5 and metrics['actor_updates'] == 1
    batches.clear()
    agent.update(online)  # no demo buffer: the whole batch is online
    assert all(b['rewards'].sum() == 0 and b['rewards'].shape == (16,) for b in batches)


@pytest.mark.parametrize('log_std, direction', [(-0.5, -1.0), (-8.0, 1.0)])
def test_temperature_gradient_sign(log_std, direction):
    """Entropy above target -> alpha falls; below target -> alpha rises (SAC Eq. 18)."""
    agent = make_agent(init_temperature=0.2)
    set_policy(agent, mean=0.0, log_std=log_std)
    batch = make_batch([0.0] * 8, [0.0] * 8, [0.0] * 8)
    before = agent.temperature
    metrics = agent.actor_temperature_step(batch)
    entropy = metrics['entropy'].item()
    assert np.sign(entropy - agent.target_entropy) == -direction
    # d loss / d log_alpha = alpha (H - H_target)
    assert agent.log_alpha.grad.item() == pytest.approx(before * (entropy + 0.5), rel=1e-5)
    assert np.sign(agent.temperature - before) == direction


def test_actor_loss_uses_mean_of_all_critics():
    agent = make_agent(num_critics=4, init_temperature=0.1)
    set_constant_critics(agent.critic, [1.0, 2.0, 3.0, 10.0])
    set_policy(agent, mean=0.2, log_std=-1.0)
    batch = make_batch([0.0] * 8, [0.0] * 8, [0.0] * 8)
    log_pi = expected_log_prob(agent, 8, 0.2, -1.0)
    metrics = agent.actor_temperature_step(batch)
    assert metrics['actor_loss'].item() == pytest.approx(0.1 * log_pi.mean() - 4.0, rel=1e-4)
    assert all(p.grad is None for p in agent.critic.parameters())  # critics untouched


def test_critic_step_loss_gradient_and_target_ema():
    agent = make_agent(tau=0.25, entropy_backup=False)
    set_constant_critics(agent.target_critic, [0.0, 0.0])
    batch = make_batch([1.0] * 8, [0.0] * 8, [0.0] * 8)
    with torch.no_grad():
        q = agent.critic(agent.encoder(batch['observations']), batch['actions'])
    expected_loss = ((q - 1.0) ** 2).mean(dim=1).mean().item()  # y = r = 1: targets are 0
    old_target = [p.clone() for p in agent.target_critic.parameters()]
    metrics = agent.critic_step(batch)
    assert metrics['critic_loss'].item() == pytest.approx(expected_loss, rel=1e-5)
    for t_old, t_new, p in zip(old_target, agent.target_critic.parameters(),
                               agent.critic.parameters()):
        torch.testing.assert_close(t_new, 0.75 * t_old + 0.25 * p.detach())


def ref_q(ens, x, i):
    """Critic i of ``ens`` evaluated alone with plain torch ops."""
    h = x
    for k in range(3):
        h = h @ ens.weights[k][i] + ens.biases[k][i]
        if k < 2:
            h = F.layer_norm(h, (h.shape[-1],)) * ens.ln_weights[k][i] + ens.ln_biases[k][i]
            h = F.relu(h)
    return h[:, 0]


def test_critic_ensemble_matches_per_critic_loop():
    torch.manual_seed(0)
    ens = CriticEnsemble(5, (7, 6), num_critics=3, layer_norm=True)
    with torch.no_grad():
        for p in ens.parameters():
            p.normal_()
    feats, acts = torch.randn(4, 3), torch.randn(4, 2)
    x = torch.cat([feats, acts], -1)
    out = ens(feats, acts)
    for i in range(3):
        torch.testing.assert_close(out[i], ref_q(ens, x, i))
    # Gradients of the fused LayerNorm-ReLU equal autograd's through the plain ops.
    grads = torch.autograd.grad(out.square().sum(), list(ens.parameters()))
    ref_out = torch.stack([ref_q(ens, x, i) for i in range(3)])
    ref_grads = torch.autograd.grad(ref_out.square().sum(), list(ens.parameters()))
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    sub = ens(feats, acts, torch.tensor([2, 0]))
    torch.testing.assert_close(sub, out[[2, 0]])


def test_tanh_gaussian_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    mean, log_std = torch.randn(64, 3), torch.randn(64, 3).clamp(-3, 1)
    a, log_prob = tanh_gaussian_sample(mean, log_std)
    dist = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()),
        [torch.distributions.TanhTransform(cache_size=1)])
    u = torch.atanh(a.clamp(-1 + 1e-6, 1 - 1e-6))
    ref = (torch.distributions.Normal(mean, log_std.exp()).log_prob(u)
           - torch.log1p(-a.square())).sum(-1)
    torch.testing.assert_close(log_prob, ref, rtol=1e-3, atol=1e-3)
    assert dist.batch_shape == (64, 3)
    assert (a.abs() < 1).all()


def test_target_entropy_default_is_minus_half_action_dim():
    act = gym.spaces.Box(-1, 1, (6,), np.float32)
    agent = RLPDAgent(OBS, act, RLPDConfig(num_critics=2, hidden_dims=(4,)), seed=0)
    assert agent.target_entropy == -3.0
    assert RLPDAgent(OBS, act, RLPDConfig(num_critics=2, hidden_dims=(4,),
                                          target_entropy=-1.0)).target_entropy == -1.0


def test_update_rejects_mismatched_buffers_and_reports_divergence():
    agent = make_agent()
    other = ReplayBuffer(gym.spaces.Box(-1, 1, (3,), np.float32), ACT, 8)
    other.insert([0, 0, 0], [0.0], 0.0, [0, 0, 0], False, False)
    with pytest.raises(ValueError, match='demo_buffer holds observations'):
        agent.update(other_like_online(), other)
    online = other_like_online()
    with torch.no_grad():
        agent.critic.biases[-1].fill_(float('nan'))
    with pytest.raises(FloatingPointError, match='critic_loss'):
        agent.update(online)


def other_like_online():
    buf = ReplayBuffer(OBS, ACT, 8)
    buf.insert([0, 0], [0.0], 0.0, [0, 0], False, False)
    return buf
