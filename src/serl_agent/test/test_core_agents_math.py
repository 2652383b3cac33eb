"""SAC, AWAC and BC math on hand-set tiny networks; the registry and the agents' configs."""

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.agents.awac import AWACAgent
from serl_agent.agents.bc import BCAgent
from serl_agent.agents.config import AWACConfig, BCConfig, RLPDConfig, SACConfig
from serl_agent.agents.registry import AGENTS, CONFIG_FILES, load_config, make_agent
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.agents.sac import SACAgent
from serl_agent.data.policy_io import decode_policy, encode_policy
from serl_agent.data.replay import ReplayBuffer
from serl_agent.networks import RunningNormalizer, tanh_gaussian_log_prob
import torch

pytestmark = pytest.mark.usefixtures('one_torch_thread')

OBS = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
ACT = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
CONFIG_DIR = Path(__file__).resolve().parents[3] / 'config'
TINY = {'batch_size': 8, 'hidden_dims': (4,)}


def set_policy(agent, mean, log_std):
    """Make the policy output a constant pre-tanh mean and log-std for every state."""
    with torch.no_grad():
        agent.policy.head.out.weight.zero_()
        agent.policy.head.out.bias.copy_(torch.tensor([mean, log_std]))


def set_linear_critics(ensemble, slopes, offsets=None):
    """Critic i outputs slopes[i] * (a + 1) + offsets[i] (no LayerNorm, one hidden layer)."""
    offsets = offsets if offsets is not None else [0.0] * len(slopes)
    with torch.no_grad():
        for p in list(ensemble.weights) + list(ensemble.biases):
            p.zero_()
        ensemble.weights[0][:, 2, 0] = 1.0   # hidden unit 0 = relu(a + 1) (inputs: s0, s1, a)
        ensemble.biases[0][:, 0, 0] = 1.0
        ensemble.weights[1][:, 0, 0] = torch.tensor(slopes)
        ensemble.biases[1][:, 0, 0] = torch.tensor(offsets)


def buffers(n_online, n_prior):
    online, prior = ReplayBuffer(OBS, ACT, max(1, n_online)), ReplayBuffer(OBS, ACT, n_prior)
    for i in range(n_online):
        online.insert([0, i], [0.0], 0.0, [0, i], False, False)
    for i in range(n_prior):
        prior.insert([1, i], [0.5], 1.0, [1, i], False, False)
    return online, prior


# ------------------------------------------------------------------ SAC
def test_sac_defaults_are_the_papers():
    c = SACConfig()
    assert (c.num_critics, c.critic_subset_size, c.utd_ratio, c.critic_layer_norm,
            c.prior_sampling) == (2, 2, 1, False, 'seeded')
    agent = SACAgent(OBS, gym.spaces.Box(-1, 1, (4,), np.float32), SACConfig(**TINY))
    assert agent.target_entropy == -4.0   # -dim(A) (SAC Table 1); RLPD's is -dim(A)/2
    assert RLPDAgent(OBS, gym.spaces.Box(-1, 1, (4,), np.float32),
                     RLPDConfig(**TINY, num_critics=2)).target_entropy == -2.0


def test_sac_clipped_double_q_target_takes_the_min_of_both_critics():
    agent = SACAgent(OBS, ACT, SACConfig(**TINY, discount=0.9, entropy_backup=False), seed=0)
    set_linear_critics(agent.target_critic, [0.0, 0.0], offsets=[2.0, 3.0])
    batch = {'observations': torch.zeros(2, 2), 'next_observations': torch.ones(2, 2),
             'actions': torch.zeros(2, 1), 'rewards': torch.tensor([1.0, 0.0]),
             'terminated': torch.tensor([0.0, 1.0]), 'truncated': torch.zeros(2)}
    np.testing.assert_allclose(agent.compute_target(batch).numpy(), [1.0 + 0.9 * 2.0, 0.0],
                               rtol=1e-6)
    # reward_scale multiplies the reward only (a log-probability reward of -5 at scale 0.1)
    scaled = SACAgent(OBS, ACT, SACConfig(**TINY, discount=0.9, entropy_backup=False,
                                          reward_scale=0.1), seed=0)
    set_linear_critics(scaled.target_critic, [0.0, 0.0], offsets=[2.0, 3.0])
    batch['rewards'] = torch.tensor([-5.0, -10.0])
    np.testing.assert_allclose(scaled.compute_target(batch).numpy(), [-0.5 + 0.9 * 2.0, -1.0],
                               rtol=1e-6)
    with pytest.raises(ValueError, match='reward_scale'):
        SACConfig(**TINY, reward_scale=0.0).validate()


def test_seeded_sampling_draws_uniformly_from_the_union():
    agent = SACAgent(OBS, ACT, SACConfig(**dict(TINY, batch_size=200)), seed=0)
    online, prior = buffers(300, 100)   # prior share of the union: 1/4
    shares = [float((agent.sample_batch(online, prior, 'seeded')['rewards'] == 1.0).float()
                    .mean()) for _ in range(50)]
    assert abs(np.mean(shares) - 0.25) < 0.02, np.mean(shares)
    assert np.std(shares) > 0.0           # a binomial share, not a fixed split
    rlpd = agent.sample_batch(online, prior, 'symmetric')['rewards']
    assert float((rlpd == 1.0).float().mean()) == 0.5
    assert float(agent.sample_batch(online, prior, 'online')['rewards'].sum()) == 0.0


def test_sac_update_with_demos_uses_the_seeded_share():
    agent = SACAgent(OBS, ACT, SACConfig(**TINY), seed=0)
    online, prior = buffers(0, 50)
    online.insert([0, 0], [0.0], 0.0, [0, 0], False, False)
    metrics = agent.update(online, prior)   # 1 online + 50 prior transitions: runs
    assert metrics['critic_updates'] == 1.0 and metrics['actor_updates'] == 1.0


# ------------------------------------------------------------------ AWAC
def awac(**overrides):
    cfg = dict(TINY, batch_size=4, awac_lambda=0.5, clipped_double_q=True)
    cfg.update(overrides)
    agent = AWACAgent(OBS, ACT, AWACConfig(**cfg), seed=0)
    set_policy(agent, mean=0.0, log_std=-6.0)   # a~ = tanh(0 + 0.0025 eps) ~ 0
    set_linear_critics(agent.critic, [2.0, 1.0])  # Q = min(2, 1) (a + 1) = a + 1
    return agent


def test_awac_advantages_and_batch_normalised_weights():
    agent = awac()
    actions = torch.tensor([[-0.5], [0.0], [0.5], [0.9]])
    aw = agent.advantage_weights(torch.zeros(4, 2), actions)
    adv = actions[:, 0].numpy()             # A = Q(s, a) - Q(s, a~) = (a + 1) - (0 + 1)
    np.testing.assert_allclose(aw['advantages'].numpy(), adv, atol=0.01)
    expected = 4 * np.exp(adv / 0.5) / np.exp(adv / 0.5).sum()   # N softmax(A / lambda)
    np.testing.assert_allclose(aw['weights'].numpy(), expected, rtol=0.03)
    assert float(aw['weights'].sum()) == pytest.approx(4.0, rel=1e-5)


def test_awac_raw_weights_are_clipped_and_without_cdq_q_is_the_mean():
    agent = awac(normalize_weights=False, max_weight=2.0, clipped_double_q=False)
    actions = torch.tensor([[-0.5], [0.0], [0.5], [0.9]])
    aw = agent.advantage_weights(torch.zeros(4, 2), actions)
    adv = 1.5 * actions[:, 0].numpy()       # Q = mean(2, 1) (a + 1)
    np.testing.assert_allclose(aw['advantages'].numpy(), adv, atol=0.01)
    np.testing.assert_allclose(aw['weights'].numpy(), np.minimum(np.exp(adv / 0.5), 2.0),
                               rtol=0.03)


def test_awac_actor_loss_is_the_weighted_negative_log_likelihood():
    agent = awac()
    set_policy(agent, mean=0.2, log_std=-1.0)
    actions = torch.tensor([[-0.5], [0.0], [0.5], [0.9]])
    batch = {'observations': torch.zeros(4, 2), 'actions': actions}
    state = agent.generator.get_state()
    aw = agent.advantage_weights(torch.zeros(4, 2), actions)
    agent.generator.set_state(state)         # the step re-draws the same a~
    log_prob = tanh_gaussian_log_prob(torch.full((4, 1), 0.2), torch.full((4, 1), -1.0),
                                      actions)
    metrics = agent.actor_temperature_step(batch)
    expected = -float((log_prob * aw['weights']).mean())
    assert float(metrics['actor_loss']) == pytest.approx(expected, rel=1e-4)
    assert agent.temperature == 0.0 and agent.actor_updates == 1


def test_awac_target_has_no_entropy_term_by_default():
    agent = AWACAgent(OBS, ACT, AWACConfig(**TINY, discount=0.5), seed=0)
    set_linear_critics(agent.target_critic, [0.0, 0.0], offsets=[4.0, 6.0])
    batch = {'observations': torch.zeros(1, 2), 'next_observations': torch.ones(1, 2),
             'actions': torch.zeros(1, 1), 'rewards': torch.tensor([1.0]),
             'terminated': torch.zeros(1), 'truncated': torch.zeros(1)}
    assert float(agent.compute_target(batch)[0]) == pytest.approx(1.0 + 0.5 * 4.0)


# ------------------------------------------------------------------ BC and the likelihood
def test_tanh_gaussian_log_prob_of_given_actions_matches_torch_distributions():
    mean, log_std = torch.tensor([[0.3, -1.0]]), torch.tensor([[-0.5, 0.2]])
    actions = torch.tensor([[0.4, -0.95]])
    dist = torch.distributions.TransformedDistribution(
        torch.distributions.Normal(mean, log_std.exp()),
        [torch.distributions.TanhTransform()])
    expected = dist.log_prob(actions).sum(-1)
    np.testing.assert_allclose(tanh_gaussian_log_prob(mean, log_std, actions).numpy(),
                               expected.numpy(), rtol=1e-4)
    # A recorded action of exactly +-1 is scored at the clip bound, finite.
    assert torch.isfinite(tanh_gaussian_log_prob(mean, log_std, torch.ones(1, 2))).all()


def test_bc_log_likelihood_by_hand():
    agent = BCAgent(OBS, ACT, BCConfig(**TINY), seed=0)
    set_policy(agent, mean=0.1, log_std=-0.7)
    actions = torch.tensor([[-0.3], [0.6]])
    batch = {'observations': torch.zeros(2, 2), 'actions': actions}
    a = actions[:, 0].numpy().astype(np.float64)
    u = np.arctanh(a)
    by_hand = (-0.5 * ((u - 0.1) / math.exp(-0.7)) ** 2 + 0.7 - 0.5 * math.log(2 * math.pi)
               - np.log(1 - a ** 2))
    assert float(agent.log_likelihood(batch).detach()) == pytest.approx(by_hand.mean(), rel=1e-5)


def test_bc_learns_the_demo_actions_and_nothing_online():
    torch.manual_seed(0)
    agent = BCAgent(OBS, ACT, BCConfig(batch_size=64, hidden_dims=(32, 32),
                                       offline_steps=600, actor_lr=3e-3), seed=0)
    prior = ReplayBuffer(OBS, ACT, 200)
    rng = np.random.default_rng(0)
    for _ in range(200):   # the demonstrator's action: 0.5 * s0, clipped
        s = rng.uniform(-1, 1, 2).astype(np.float32)
        prior.insert(s, [0.5 * s[0]], 0.0, s, False, False)
    before = agent.act(np.array([[0.8, 0.0], [-0.8, 0.0]], np.float32), deterministic=True)
    agent.pretrain(prior)
    after = agent.act(np.array([[0.8, 0.0], [-0.8, 0.0]], np.float32), deterministic=True)
    assert np.abs(after[:, 0] - [0.4, -0.4]).max() < 0.08, (before, after)
    assert agent.offline_updates == 600 and agent.offline_steps_left == 0
    state = agent.policy_state_dict()
    assert agent.update(prior)['critic_updates'] == 0.0   # no online learning
    assert all(torch.equal(state[k], v) for k, v in agent.policy_state_dict().items())
    assert not agent.learns_online


# ------------------------------------------------------------------ registry, configs, state
#: where a config file departs from its agent's published defaults, by a named project choice:
#: serl_train_gym's RLPD normalises observations (it did not hurt RLPD on pick-cube and any
#: env may bring badly scaled features; docs/benchmarks.md, agents_compare session 11)
PROJECT_CHOICES = {'rlpd': {'normalize_observations': True}}


def test_config_files_hold_each_agents_defaults():
    for name, file in CONFIG_FILES.items():
        assert load_config(name, CONFIG_DIR / file) == load_config(
            name, **PROJECT_CHOICES.get(name, {})), file


def test_pick_cube_settings_have_a_section_for_every_agent():
    for name in AGENTS:
        load_config(name, CONFIG_DIR / 'agent_pick_cube.yaml')   # raises if missing or bad


def test_unknown_agents_and_foreign_configs_and_states_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown agent 'ppo'"):
        make_agent('ppo', OBS, ACT)
    with pytest.raises(ValueError, match='RLPDAgent needs a RLPDConfig, got a SACConfig'):
        make_agent('rlpd', OBS, ACT, SACConfig())
    with pytest.raises(ValueError, match='unknown AWACConfig keys'):
        load_config('awac', None, beta=2.0)
    yaml_file = tmp_path / 'only_rlpd.yaml'
    yaml_file.write_text('rlpd: {utd_ratio: 2}\n')
    with pytest.raises(ValueError, match='no "sac:" section'):
        load_config('sac', yaml_file)
    sac = make_agent('sac', OBS, ACT, SACConfig(**TINY))
    with pytest.raises(ValueError, match="saved state is of agent 'sac', this agent is 'awac'"):
        make_agent('awac', OBS, ACT, AWACConfig(**TINY)).load_state_dict(sac.state_dict())


def test_state_round_trip_for_every_agent_and_version_1_loads_as_rlpd():
    configs = {'sac': SACConfig(**TINY), 'rlpd': RLPDConfig(**TINY, num_critics=2),
               'awac': AWACConfig(**TINY), 'bc': BCConfig(**TINY)}
    online, prior = buffers(20, 20)
    for name, cfg in configs.items():
        a = make_agent(name, OBS, ACT, cfg, seed=1)
        a.pretrain_step(prior)
        a.update(online, prior)
        b = make_agent(name, OBS, ACT, cfg, seed=2)
        b.load_state_dict(a.state_dict())
        obs = np.zeros((3, 2), np.float32)
        np.testing.assert_array_equal(a.act(obs, True), b.act(obs, True))
        assert (b.critic_updates, b.actor_updates) == (a.critic_updates, a.actor_updates)
    old = make_agent('rlpd', OBS, ACT, configs['rlpd']).state_dict()
    old = {k: v for k, v in old.items() if k not in ('agent', 'offline_updates')}
    old['version'] = 1   # a checkpoint written before serl_agent had other agents
    make_agent('rlpd', OBS, ACT, configs['rlpd']).load_state_dict(old)


def test_replay_extend_keeps_order_and_concatenate_fills_exactly():
    a, b = ReplayBuffer(OBS, ACT, 3), ReplayBuffer(OBS, ACT, 4)
    for i in range(5):   # a wrapped: holds 2, 3, 4 (oldest first)
        a.insert([i, 0], [0.0], float(i), [i, 0], False, False)
    b.insert([9, 0], [0.0], 9.0, [9, 0], False, True)
    both = ReplayBuffer.concatenate([a, b])
    assert both.capacity == len(both) == 4
    idx = torch.arange(4)
    assert both.gather(idx)['rewards'].tolist() == [2.0, 3.0, 4.0, 9.0]
    assert both.gather(idx)['truncated'].tolist() == [0.0, 0.0, 0.0, 1.0]
    small = ReplayBuffer(OBS, ACT, 2)
    small.extend(a)       # more than fits: the newest are kept
    assert sorted(small.gather(torch.arange(2))['rewards'].tolist()) == [3.0, 4.0]
    with pytest.raises(ValueError, match='cannot extend'):
        small.extend(ReplayBuffer(gym.spaces.Box(-1, 1, (3,), np.float32), ACT, 1))


def test_running_normalizer_matches_numpy_and_travels_with_the_policy():
    rng = np.random.default_rng(0)
    data = rng.normal([3.0, -200.0], [0.5, 40.0], size=(300, 2))
    norm = RunningNormalizer(2)
    for chunk in np.array_split(data, 7):
        norm.update(torch.as_tensor(chunk))
    np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), rtol=1e-9)
    np.testing.assert_allclose(norm.var.numpy(), data.var(0), rtol=1e-9)
    out = norm(torch.tensor([[3.0, -200.0], [3.0, 1e6]], dtype=torch.float32))
    assert out[0].abs().max() < 0.1 and out[1, 1] == RunningNormalizer.CLIP
    agent = SACAgent(OBS, ACT, SACConfig(**TINY, normalize_observations=True), seed=0)
    agent.observe(data.astype(np.float32))
    assert torch.equal(agent.target_encoder.normalizer.mean, agent.encoder.normalizer.mean)
    policy = decode_policy(*encode_policy(agent))   # what the actor receives
    obs = data[:4].astype(np.float32)
    np.testing.assert_array_equal(policy.act(obs, True), agent.act(obs, True))
    np.testing.assert_allclose(policy.encoder.normalizer.var.numpy(), data.var(0), rtol=1e-6)
    plain = SACAgent(OBS, ACT, SACConfig(**TINY), seed=0)
    plain.observe(data.astype(np.float32))   # off: no statistics, no error
    assert plain.encoder.normalizer is None and 'normalize_observations' not in \
        plain.policy_config()


def test_bc_warm_start_regresses_the_deterministic_action_while_the_critics_learn():
    torch.manual_seed(0)
    config = RLPDConfig(batch_size=64, hidden_dims=(32, 32), num_critics=2, utd_ratio=1,
                        offline_steps=500, offline_actor='bc', actor_lr=3e-3)
    agent = RLPDAgent(OBS, ACT, config, seed=0)
    prior = ReplayBuffer(OBS, ACT, 200)
    rng = np.random.default_rng(0)
    for _ in range(200):
        s = rng.uniform(-1, 1, 2).astype(np.float32)
        prior.insert(s, [0.5 * s[0]], 1.0, s, True, False)
    agent.pretrain(prior)
    act = agent.act(np.array([[0.8, 0.0], [-0.8, 0.0]], np.float32), deterministic=True)
    assert np.abs(act[:, 0] - [0.4, -0.4]).max() < 0.08, act
    assert agent.critic_updates == agent.actor_updates == 500
    with torch.no_grad():   # the critics learnt the prior rewards (r = 1, terminal) meanwhile
        assert float(agent.critic(torch.zeros(1, 2), torch.zeros(1, 1)).mean()) > 0.5


def test_actor_bc_regulariser_pulls_toward_the_prior_actions_only():
    """TD3+BC's term: actor_bc_weight x mean over prior rows of ||tanh(mu(s)) - a||^2."""
    import copy
    online, prior = buffers(16, 16)   # online actions 0.0, prior actions 0.5
    base = RLPDAgent(OBS, ACT, RLPDConfig(**TINY, num_critics=2, init_temperature=0.1),
                     seed=0)
    set_policy(base, 0.2, -1.0)
    batch = base.sample_batch(online, prior)
    assert batch['prior'].tolist() == [False] * 4 + [True] * 4   # symmetric: 4 + 4, prior last
    assert not base.sample_batch(online, None)['prior'].any()
    losses = {}
    for weight in (0.0, 2.0):
        agent = copy.deepcopy(base)   # same weights and random draws
        agent.config = RLPDConfig(**TINY, num_critics=2, init_temperature=0.1,
                                  actor_bc_weight=weight)
        losses[weight] = agent.actor_temperature_step(batch)
    bc = (math.tanh(0.2) - 0.5) ** 2
    assert 'actor_bc_loss' not in losses[0.0]
    assert float(losses[2.0]['actor_bc_loss']) == pytest.approx(bc, rel=1e-5)
    assert float(losses[2.0]['actor_loss']) - float(losses[0.0]['actor_loss']) == \
        pytest.approx(2.0 * bc, rel=1e-4)
    with pytest.raises(ValueError, match='actor_bc_weight'):
        RLPDConfig(actor_bc_weight=-1.0).validate()


def test_actor_bc_on_the_sampled_action_also_narrows_the_policy():
    """actor_bc_action 'sample': ||a~ - a||^2, whose expectation adds the policy's variance."""
    import copy
    online, prior = buffers(16, 16)   # prior actions 0.5
    base = RLPDAgent(OBS, ACT, RLPDConfig(**TINY, num_critics=2, init_temperature=0.1),
                     seed=0)
    set_policy(base, math.atanh(0.5), 0.0)   # the mean action is the demos' (tanh(mu) = 0.5)
    batch = base.sample_batch(online, prior)
    out = {}
    for mode in ('mean', 'sample'):
        agent = copy.deepcopy(base)   # same weights and random draws
        agent.config = RLPDConfig(**TINY, num_critics=2, init_temperature=0.1,
                                  actor_bc_weight=2.0, actor_bc_action=mode)
        loss = float(agent.actor_temperature_step(batch)['actor_bc_loss'])
        out[mode] = loss, float(agent.policy.head.out.bias.grad[1])   # d loss / d log_std
    assert out['mean'][0] == pytest.approx(0.0, abs=1e-6)
    assert out['sample'][0] > 0.01   # the sampled actions spread around 0.5
    # the same draws: the gradients differ by the BC term's alone, which widens nothing
    # in 'mean' and pushes log_std down (a positive gradient) in 'sample'
    assert out['sample'][1] - out['mean'][1] > 1e-3
    with pytest.raises(ValueError, match='actor_bc_action'):
        RLPDConfig(actor_bc_action='mode').validate()
