"""bf16 mixed precision: resolving ``precision``, and bf16 updates agreeing with fp32 ones."""

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.agents.config import AWACConfig, BCConfig, RLPDConfig
from serl_agent.agents.precision import cpu_bf16_flags, resolve_precision
from serl_agent.agents.registry import make_agent
from serl_agent.data.replay import ReplayBuffer
import torch


pytestmark = pytest.mark.usefixtures('one_torch_thread')

OBS = gym.spaces.Dict({'state': gym.spaces.Box(-3.0, 3.0, (12,), np.float32)})
ACT = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)


def test_precision_is_resolved_per_device_and_bad_values_are_named():
    assert resolve_precision('fp32', 'cpu')[0] == 'fp32'
    assert resolve_precision('bf16', 'cpu')[0] == 'bf16'
    auto, why = resolve_precision('auto', 'cpu')
    assert auto == ('bf16' if cpu_bf16_flags() else 'fp32') and why.startswith('auto: CPU has')
    with pytest.raises(ValueError, match='fp16'):
        resolve_precision('fp16', 'cpu')
    with pytest.raises(ValueError, match=r"RLPDConfig.precision='half'"):
        RLPDConfig(precision='half')


def _buffer(seed=0, n=2000):
    """Sparse-reward transitions of a fixed random 'task': reward when state[0] > 1.3."""
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(OBS, ACT, n)
    for _ in range(n):
        obs = {'state': rng.normal(size=12).astype(np.float32)}
        nxt = {'state': rng.normal(size=12).astype(np.float32)}
        reward = float(nxt['state'][0] > 1.3)
        buf.insert(obs, rng.uniform(-1, 1, 3).astype(np.float32), reward, nxt, reward > 0,
                   False)
    return buf


def test_bf16_and_fp32_agree_over_1000_updates_on_identical_batches():
    """Same seed, same batches: TD loss and mean Q within 2 % (last 200 of 1,000 updates)."""
    buf = _buffer()
    runs = {}
    for precision in ('fp32', 'bf16'):
        config = RLPDConfig(batch_size=64, hidden_dims=(64, 64), num_critics=2, utd_ratio=1,
                            torch_compile=False, precision=precision)
        agent = make_agent('rlpd', OBS, ACT, config, seed=0)
        assert agent.precision == precision
        history = [agent.update(buf, buf) for _ in range(1000)]
        runs[precision] = {k: np.mean([m[k] for m in history[-200:]])
                           for k in ('critic_loss', 'q_mean')}
        assert all(p.dtype == torch.float32 for p in agent.critic.parameters())  # fp32 master
    for k in ('critic_loss', 'q_mean'):
        fp32, bf16 = runs['fp32'][k], runs['bf16'][k]
        assert abs(bf16 - fp32) <= 0.02 * abs(fp32), (k, fp32, bf16)


@pytest.mark.parametrize('agent_name,config', [
    ('awac', AWACConfig(batch_size=16, hidden_dims=(16, 16), offline_steps=2,
                        precision='bf16')),
    ('bc', BCConfig(batch_size=16, hidden_dims=(16, 16), offline_steps=2, precision='bf16')),
])
def test_other_agents_train_in_bf16(agent_name, config):
    buf = _buffer(n=64)
    agent = make_agent(agent_name, OBS, ACT, config, seed=0)
    metrics = agent.pretrain(buf)
    assert np.isfinite(metrics['actor_loss'])
    if agent.learns_online:
        assert np.isfinite(agent.update(buf, buf)['critic_loss'])
