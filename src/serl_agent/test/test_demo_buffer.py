"""Demo buffer from real bags into the core's ReplayBuffer."""

from agent_fixtures import make_episode
import gymnasium as gym
import numpy as np
import pytest
from serl_agent.data.bag_io import EpisodeBagWriter, make_typestore
from serl_agent.data.demo_buffer import DemoError, load_demo_buffer, load_demo_data
from serl_agent.data.transition_codec import (dict_to_transition, observation_space_from,
                                              rosbags_types)

ACTIONS = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)


@pytest.fixture()
def recording(tmp_path):
    store = make_typestore()
    types = rosbags_types(store)
    rng = np.random.default_rng(0)
    eps = [make_episode(rng, 'a', 0, 3, 1, success=True),
           make_episode(rng, 'a', 1, 4, 4, success=False),
           make_episode(rng, 'b', 0, 2, 1, success=True)]
    with EpisodeBagWriter(tmp_path / 'demos', typestore=store) as writer:
        for ep in eps:
            for tr in ep:
                writer.write(dict_to_transition(tr, types), tr['stamp_ns'])
        # a re-sent duplicate (actor re-sending after a learner restart) is dropped
        writer.write(dict_to_transition(eps[0][0], types), eps[0][0]['stamp_ns'])
    return tmp_path / 'demos', eps


def test_load_all_and_successful_only(recording):
    path, eps = recording
    space = observation_space_from(eps[0][0]['observation'])
    buf, summary = load_demo_data(path, space, ACTIONS)
    assert len(buf) == 9
    assert sorted((s.actor_id, s.episode, s.steps, s.success, s.complete) for s in summary) == [
        ('a', 0, 3, True, True), ('a', 1, 4, False, True), ('b', 0, 2, True, True)]
    buf = load_demo_buffer(path, space, ACTIONS, successful_only=True, capacity=100)
    assert len(buf) == 5 and buf.capacity == 100
    # the successful episodes' rewards: 1 at each episode's last step only
    state = buf.state_dict()
    assert state['rewards'].numpy().tolist()[:5] == [0.0, 0.0, 1.0, 0.0, 1.0]


def test_space_mismatch_is_named(recording):
    path, eps = recording
    obs = dict(eps[0][0]['observation'])
    obs['tcp_pose'] = np.zeros(6, np.float32)
    with pytest.raises(DemoError, match='tcp_pose.*shape'):
        load_demo_buffer(path, observation_space_from(obs), ACTIONS)
    with pytest.raises(DemoError, match='action shape'):
        load_demo_buffer(path, observation_space_from(eps[0][0]['observation']),
                         gym.spaces.Box(-1.0, 1.0, (3,), np.float32))


def test_observation_keys_select_a_subset(recording):
    path, eps = recording
    obs = eps[0][0]['observation']
    keys = sorted(obs)[:2]
    space = observation_space_from({k: obs[k] for k in keys})
    with pytest.raises(DemoError, match='keys'):
        load_demo_data(path, space, ACTIONS)  # all keys do not fit the smaller space
    buf, _ = load_demo_data(path, space, ACTIONS, observation_keys=keys)
    assert len(buf) == 9
    with pytest.raises(DemoError, match="no key.*'missing'"):
        load_demo_data(path, space, ACTIONS, observation_keys=keys + ['missing'])
