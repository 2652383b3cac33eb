"""Checkpoints: exact resume, existing run dirs, atomic saves, corrupt files."""

import os

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.data import checkpoint
from serl_agent.data.checkpoint import CheckpointError
from serl_agent.data.replay import ReplayBuffer
import torch


pytestmark = pytest.mark.usefixtures('one_torch_thread')


OBS = gym.spaces.Box(-5, 5, (3,), np.float32)
ACT = gym.spaces.Box(-1, 1, (2,), np.float32)
CFG = RLPDConfig(batch_size=16, num_critics=3, hidden_dims=(16, 16), utd_ratio=2)


def filled(n, seed):
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(OBS, ACT, capacity=64)
    for _ in range(n):
        buf.insert(rng.normal(size=3), rng.uniform(-1, 1, 2), rng.normal(), rng.normal(size=3),
                   rng.random() < 0.1, rng.random() < 0.1)
    return buf


def params(agent):
    state = agent.state_dict()
    return [t.clone() for k in ('policy', 'critic', 'target_critic')
            for t in state[k].values()] + [state['log_alpha'].clone()]


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    agent, online, demo = RLPDAgent(OBS, ACT, CFG, seed=3), filled(40, 0), filled(30, 1)
    for _ in range(3):
        agent.update(online, demo)
    path = checkpoint.save(tmp_path, agent, {'online': online, 'demo': demo}, {'env_steps': 40},
                           extra={'acked': {'actor_a': 17}})
    assert path.exists()
    for _ in range(3):
        agent.update(online, demo)

    resumed = RLPDAgent(OBS, ACT, CFG, seed=99)
    online2, demo2 = ReplayBuffer(OBS, ACT, 64), ReplayBuffer(OBS, ACT, 64)
    info = checkpoint.load(tmp_path, resumed, {'online': online2, 'demo': demo2})
    assert info['counters'] == {'env_steps': 40} and info['extra'] == {'acked': {'actor_a': 17}}
    assert (resumed.critic_updates, resumed.actor_updates) == (6, 3)
    assert len(online2) == 40 and len(demo2) == 30
    for _ in range(3):
        resumed.update(online2, demo2)
    for a, b in zip(params(agent), params(resumed)):
        torch.testing.assert_close(a, b)  # same networks, optimizer moments, RNG, buffers


def test_existing_run_dir_is_resumed_and_fresh_dir_has_no_checkpoint(tmp_path):
    run = tmp_path / 'run'
    assert checkpoint.load(run, RLPDAgent(OBS, ACT, CFG, seed=0)) is None  # fresh, no error
    agent = RLPDAgent(OBS, ACT, CFG, seed=0)
    online = filled(20, 0)
    agent.update(online)
    checkpoint.save(run, agent, {'online': online})
    checkpoint.open_run(run)  # reopening an existing run dir is fine
    agent.update(online)
    checkpoint.save(run, agent, {'online': online})
    agent.update(online)
    last = checkpoint.save(run, agent, {'online': online}, keep=2)
    files = sorted(p.name for p in (run / 'checkpoints').glob('ckpt_*.pt'))
    assert files == ['ckpt_000000000004.pt', 'ckpt_000000000006.pt']
    assert checkpoint.latest_checkpoint(run) == last
    again = RLPDAgent(OBS, ACT, CFG, seed=1)
    assert checkpoint.load(run, again, {'online': ReplayBuffer(OBS, ACT, 64)}) is not None
    assert again.critic_updates == 6


def test_crash_during_save_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    agent, online = RLPDAgent(OBS, ACT, CFG, seed=0), filled(20, 0)
    agent.update(online)
    good = checkpoint.save(tmp_path, agent, {'online': online})
    agent.update(online)

    def crash(src, dst):
        raise OSError('simulated power loss before rename')

    monkeypatch.setattr(checkpoint.os, 'replace', crash)
    with pytest.raises(OSError, match='power loss'):
        checkpoint.save(tmp_path, agent, {'online': online})
    monkeypatch.undo()
    assert checkpoint.latest_checkpoint(tmp_path) == good
    assert not list((tmp_path / 'checkpoints').glob('.tmp-*'))
    fresh = RLPDAgent(OBS, ACT, CFG, seed=1)
    checkpoint.load(tmp_path, fresh, {'online': ReplayBuffer(OBS, ACT, 64)})
    assert fresh.critic_updates == 2


def test_corrupt_checkpoint_raises_naming_the_file_and_is_not_overwritten(tmp_path):
    agent, online = RLPDAgent(OBS, ACT, CFG, seed=0), filled(20, 0)
    agent.update(online)
    path = checkpoint.save(tmp_path, agent, {'online': online})
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=str(path.name) + '.*SHA-256'):
        checkpoint.load(tmp_path, RLPDAgent(OBS, ACT, CFG, seed=1))
    path.write_bytes(bytes(data[:100]))  # truncated and manifest checksum ignored by read()
    with pytest.raises(CheckpointError, match='corrupt checkpoint .*' + path.name):
        checkpoint.read(path)
    before = path.read_bytes()
    agent.update(online)
    new = checkpoint.save(tmp_path, agent, {'online': online})
    assert new != path and path.read_bytes() == before
    (tmp_path / 'checkpoints' / 'latest.json').write_text('{not json')
    with pytest.raises(CheckpointError, match='latest.json'):
        checkpoint.load(tmp_path, agent)


def test_checkpoint_of_another_agent_shape_is_a_clear_error(tmp_path):
    agent, online = RLPDAgent(OBS, ACT, CFG, seed=0), filled(20, 0)
    checkpoint.save(tmp_path, agent, {'online': online})
    other = RLPDAgent(OBS, gym.spaces.Box(-1, 1, (3,), np.float32), CFG, seed=0)
    with pytest.raises(CheckpointError, match='does not fit'):
        checkpoint.load(tmp_path, other)
    with pytest.raises(CheckpointError, match="no buffer 'demo'"):
        checkpoint.load(tmp_path, RLPDAgent(OBS, ACT, CFG, seed=0),
                        {'demo': ReplayBuffer(OBS, ACT, 8)})
    assert os.path.exists(checkpoint.latest_checkpoint(tmp_path))
