"""Config file defaults and validation; policy weights round trip for actors."""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.data.policy_io import decode_policy, encode_policy, load_weights
from serl_agent.networks import build_policy
import torch

AGENT_YAML = Path(__file__).resolve().parents[3] / 'config' / 'agent.yaml'


def test_yaml_defaults_equal_dataclass_defaults_and_table_1():
    cfg = RLPDConfig.from_yaml(AGENT_YAML)
    # the published algorithm's defaults, but for the project's choice of observation
    # normalisation in serl_train_gym (any env; it did not hurt RLPD on pick-cube)
    assert cfg == RLPDConfig(normalize_observations=True)
    assert (cfg.batch_size, cfg.discount, cfg.num_critics, cfg.critic_subset_size, cfg.tau,
            cfg.utd_ratio, cfg.hidden_dims, cfg.init_temperature, cfg.actor_lr) == (
        256, 0.99, 10, 2, 0.005, 20, (256, 256), 1.0, 3e-4)
    assert RLPDConfig.from_yaml(AGENT_YAML, utd_ratio=2).utd_ratio == 2


def test_bad_config_values_name_the_field(tmp_path):
    with pytest.raises(ValueError, match='batch_size'):
        RLPDConfig(batch_size=255)
    with pytest.raises(ValueError, match='critic_subset_size'):
        RLPDConfig(num_critics=2, critic_subset_size=3)
    path = tmp_path / 'bad.yaml'
    path.write_text('rlpd:\n  utd_ratoi: 3\n')
    with pytest.raises(ValueError, match=r'bad\.yaml.*utd_ratoi'):
        RLPDConfig.from_yaml(path)


def test_policy_weights_round_trip_into_standalone_policy():
    obs_space = gym.spaces.Dict({
        'state': gym.spaces.Box(-1, 1, (3,), np.float32),
        'wrist': gym.spaces.Box(0, 255, (32, 32, 3), np.uint8)})
    act_space = gym.spaces.Box(-1, 1, (4,), np.float32)
    cfg = RLPDConfig(num_critics=2, hidden_dims=(8,), encoder_filters=4, encoder_latent_dim=6)
    agent = RLPDAgent(obs_space, act_space, cfg, seed=0)
    with torch.no_grad():
        for p in agent.policy.parameters():
            p.normal_(0, 0.3)
    obs = {'state': np.array([0.1, -0.2, 0.3], np.float32),
           'wrist': np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)}
    config_json, data = encode_policy(agent)
    json.loads(config_json)
    policy = decode_policy(config_json, data)
    np.testing.assert_allclose(policy.act(obs, deterministic=True),
                               agent.act(obs, deterministic=True), rtol=1e-6)
    assert policy.act(obs).dtype == np.float32 and policy.act(obs).shape == (4,)
    fresh = build_policy(json.loads(config_json))
    load_weights(fresh, data)
    np.testing.assert_allclose(fresh.act(obs, True), agent.act(obs, True), rtol=1e-6)
    with pytest.raises(ValueError, match='do not load'):
        load_weights(fresh, b'not a state dict')
    with pytest.raises(ValueError, match='format'):
        decode_policy(config_json, data, 'pickle')
    with pytest.raises(ValueError, match="missing key 'wrist'"):
        policy.act({'state': obs['state']})
