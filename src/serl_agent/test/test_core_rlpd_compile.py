"""The torch.compile'd critic step equals the eager one; a failing compile falls back."""

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.rlpd import RLPDAgent
import torch


pytestmark = pytest.mark.usefixtures('one_torch_thread')


OBS = gym.spaces.Box(-10.0, 10.0, (3,), np.float32)
ACT = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


def make_agent(torch_compile):
    cfg = RLPDConfig(batch_size=8, num_critics=3, critic_subset_size=2, hidden_dims=(16, 16),
                     utd_ratio=1, torch_compile=torch_compile)
    return RLPDAgent(OBS, ACT, cfg, seed=0)


def make_batch(seed):
    g = torch.Generator().manual_seed(seed)
    return {'observations': torch.randn(8, 3, generator=g),
            'next_observations': torch.randn(8, 3, generator=g),
            'actions': torch.rand(8, 2, generator=g) * 2 - 1,
            'rewards': torch.randn(8, generator=g),
            'terminated': (torch.rand(8, generator=g) < 0.3).float(),
            'truncated': torch.zeros(8)}


def test_auto_keeps_small_networks_eager_and_bad_values_are_named():
    assert not make_agent('auto').critic_compiled
    assert make_agent(True).critic_compiled
    with pytest.raises(ValueError, match='torch_compile'):
        RLPDConfig(torch_compile='yes')
    with pytest.raises(ValueError, match='cuda_graphs'):
        RLPDConfig(cuda_graphs='yes')


def test_cuda_graphs_is_a_no_op_off_cuda():
    cfg = RLPDConfig(batch_size=8, num_critics=3, critic_subset_size=2, hidden_dims=(16, 16),
                     utd_ratio=1, torch_compile=True, cuda_graphs=True)
    graphs, plain = RLPDAgent(OBS, ACT, cfg, seed=0), make_agent(True)
    assert graphs.critic_compiled and not graphs._cuda_graphs
    batch = make_batch(0)
    m_g, m_p = graphs.critic_step(batch), plain.critic_step(batch)
    for k in m_p:
        torch.testing.assert_close(m_g[k], m_p[k])


def test_compiled_critic_steps_match_eager():
    eager, compiled = make_agent(False), make_agent(True)
    for p_e, p_c in zip(eager.critic.parameters(), compiled.critic.parameters()):
        torch.testing.assert_close(p_e, p_c)  # same seed, same weights
    for step in range(3):
        batch = make_batch(step)
        m_e, m_c = eager.critic_step(batch), compiled.critic_step(batch)
        assert compiled.critic_compiled  # no fallback happened
        for k in m_e:
            torch.testing.assert_close(m_c[k], m_e[k], rtol=1e-5, atol=1e-6)
        for p_e, p_c in zip(eager.critic_params + eager.target_params,
                            compiled.critic_params + compiled.target_params):
            torch.testing.assert_close(p_c, p_e, rtol=1e-5, atol=1e-6)


def test_failing_compiled_step_falls_back_to_eager_with_a_warning():
    eager, agent = make_agent(False), make_agent(True)

    def broken(*args):
        raise RuntimeError('no compiler here')

    agent._compiled_critic_loss = broken
    batch = make_batch(0)
    with pytest.warns(UserWarning, match='no compiler here'):
        metrics = agent.critic_step(batch)
    assert not agent.critic_compiled
    torch.testing.assert_close(metrics['critic_loss'], eager.critic_step(batch)['critic_loss'])
    for p_e, p in zip(eager.critic_params, agent.critic_params):
        torch.testing.assert_close(p, p_e)
