"""Replay buffer: layout, dtypes, ring overwrite, validation, state round trip."""

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.data.replay import ReplayBuffer
import torch

ACT = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
DICT_OBS = gym.spaces.Dict({
    'tcp_pose': gym.spaces.Box(-np.inf, np.inf, (7,), np.float32),
    'gripper_width': gym.spaces.Box(0.0, 0.08, (1,), np.float32),
    'front': gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)})


def dict_obs(i):
    return {'tcp_pose': np.full(7, i, np.float32), 'gripper_width': np.array([0.01 * i]),
            'front': np.full((16, 16, 3), i % 256, np.uint8)}


def test_dict_observations_sample_on_torch_side_with_uint8_images():
    buf = ReplayBuffer(DICT_OBS, ACT, capacity=10)
    for i in range(4):
        buf.insert(dict_obs(i), [0.5, -0.5], float(i), dict_obs(i + 1), i == 3, i == 2)
    assert len(buf) == 4
    batch = buf.sample(32, torch.Generator().manual_seed(0))
    obs, nxt = batch['observations'], batch['next_observations']
    assert obs['front'].dtype == torch.uint8 and obs['front'].shape == (32, 16, 16, 3)
    assert obs['tcp_pose'].dtype == torch.float32 and obs['tcp_pose'].shape == (32, 7)
    assert batch['actions'].shape == (32, 2)
    i = batch['rewards'].long()
    assert torch.equal(obs['tcp_pose'][:, 0].long(), i)
    assert torch.equal(nxt['tcp_pose'][:, 0].long(), i + 1)
    assert torch.equal(batch['terminated'], (i == 3).float())
    assert torch.equal(batch['truncated'], (i == 2).float())


def test_ring_buffer_overwrites_oldest_and_state_round_trip():
    box = gym.spaces.Box(-10, 10, (3,), np.float32)
    buf = ReplayBuffer(box, ACT, capacity=5)
    for i in range(8):
        buf.insert(np.full(3, i), [0, 0], i, np.full(3, i + 1), False, False)
    assert len(buf) == 5 and buf.total_inserted == 8
    rewards = set(buf.sample(200, torch.Generator().manual_seed(1))['rewards'].tolist())
    assert rewards == {3.0, 4.0, 5.0, 6.0, 7.0}
    state = buf.state_dict()
    assert state['rewards'].tolist() == [5.0, 6.0, 7.0, 3.0, 4.0] and state['next'] == 3
    assert state['rewards'].data_ptr() == buf._rewards.data_ptr()  # full buffer: no copy
    copy = ReplayBuffer(box, ACT, capacity=5)
    copy.load_state_dict(state)
    assert len(copy) == 5 and copy.total_inserted == 8
    copy.insert(np.zeros(3), [0, 0], 8, np.zeros(3), False, False)  # overwrites the oldest (3)
    assert chronological(copy.state_dict()) == [4.0, 5.0, 6.0, 7.0, 8.0]
    small = ReplayBuffer(box, ACT, capacity=2)
    small.load_state_dict(state)  # keeps the newest
    assert chronological(small.state_dict()) == [6.0, 7.0]
    part = ReplayBuffer(box, ACT, capacity=10)
    part.load_state_dict(state)
    assert chronological(part.state_dict()) == [3.0, 4.0, 5.0, 6.0, 7.0]
    part.insert(np.zeros(3), [0, 0], 9, np.zeros(3), False, False)
    assert chronological(part.state_dict()) == [3.0, 4.0, 5.0, 6.0, 7.0, 9.0]


def chronological(state):
    """Rewards of a saved buffer, oldest first."""
    r = state['rewards'].tolist()
    return r[state['next']:] + r[:state['next']] if len(r) == state['capacity'] else r


def test_bad_inputs_raise_naming_the_field_and_write_nothing():
    buf = ReplayBuffer(DICT_OBS, ACT, capacity=4)
    good = dict_obs(1)
    bad_nan = dict(good, tcp_pose=np.full(7, np.nan))
    with pytest.raises(ValueError, match='next_obs.*tcp_pose.*NaN'):
        buf.insert(good, [0, 0], 0.0, bad_nan, False, False)
    with pytest.raises(ValueError, match="missing key 'front'"):
        buf.insert({k: v for k, v in good.items() if k != 'front'}, [0, 0], 0, good, 0, 0)
    with pytest.raises(ValueError, match='front.*uint8'):
        buf.insert(dict(good, front=good['front'].astype(np.float32)), [0, 0], 0, good, 0, 0)
    with pytest.raises(ValueError, match='action.*shape'):
        buf.insert(good, [0, 0, 0], 0.0, good, False, False)
    with pytest.raises(ValueError, match='outside'):
        buf.insert(good, [1.5, 0], 0.0, good, False, False)
    with pytest.raises(ValueError, match='reward'):
        buf.insert(good, [0, 0], float('inf'), good, False, False)
    assert len(buf) == 0 and buf.total_inserted == 0
    with pytest.raises(ValueError, match='empty'):
        buf.sample(4)
    other = ReplayBuffer(gym.spaces.Box(-1, 1, (3,)), ACT, capacity=4)
    with pytest.raises(ValueError, match='spec'):
        other.load_state_dict(buf.state_dict())
