"""serl_record_demos: scripted expert in serl_sim's PandaPickCube-v0 straight into bags."""

import gymnasium as gym
import pytest
from serl_agent.cli.record_demos import main
from serl_agent.data.demo_buffer import load_demo_data
import serl_sim  # noqa: F401


def test_record_and_load(tmp_path):
    out = tmp_path / 'demos'
    assert main(['--episodes', '2', '--output', str(out), '--seed', '3']) == 0
    env = gym.make('PandaPickCube-v0')
    buffer, episodes = load_demo_data(out, env.observation_space, env.action_space)
    summary = [(e.episode, e.success, e.complete) for e in episodes]
    assert summary == [(0, True, True), (1, True, True)]
    assert len(buffer) == sum(e.steps for e in episodes)
    # a second call appends episodes, never overwrites
    assert main(['--episodes', '1', '--output', str(out), '--storage', 'mcap']) == 0
    _, episodes = load_demo_data(out, env.observation_space, env.action_space)
    assert [e.episode for e in episodes] == [0, 1, 2]


def test_bad_task_fails(tmp_path):
    with pytest.raises(gym.error.Error):
        main(['--episodes', '1', '--task', 'NoSuchEnv-v0', '--output', str(tmp_path / 'x')])
