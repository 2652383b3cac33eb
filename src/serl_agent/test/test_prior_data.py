"""Prior data from earlier runs: a learner's spool, a serl_train_gym run, bags; bad input."""

from agent_fixtures import make_episode
import gymnasium as gym
import numpy as np
import pytest
from serl_agent.cli.train_gym import main
from serl_agent.data.bag_io import EpisodeBagWriter, make_typestore, TRANSITION_TYPE
from serl_agent.data.prior_data import load_prior_buffer, PriorDataError
from serl_agent.data.transition_codec import (dict_to_transition, observation_space_from,
                                              rosbags_types)
from serl_agent.data.transition_spool import TransitionSpool
import torch

ACTIONS = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)


@pytest.fixture()
def episodes():
    rng = np.random.default_rng(0)
    return [make_episode(rng, 'a', 0, 3, 1, success=True),
            make_episode(rng, 'a', 1, 4, 4, success=False)]


def write_bags(path, eps):
    store = make_typestore()
    types = rosbags_types(store)
    with EpisodeBagWriter(path, typestore=store) as writer:
        for ep in eps:
            for tr in ep:
                writer.write(dict_to_transition(tr, types), tr['stamp_ns'])


def write_spool(run_dir, eps):
    store = make_typestore()
    types = rosbags_types(store)
    run_dir.mkdir(parents=True)
    spool = TransitionSpool(run_dir / 'transitions.spool')
    for ep in eps:
        for tr in ep:
            spool.append(store.serialize_cdr(dict_to_transition(tr, types), TRANSITION_TYPE))
    spool.sync()
    spool.close()


def test_spool_and_bags_of_earlier_runs_fill_one_buffer(tmp_path, episodes):
    space = observation_space_from(episodes[0][0]['observation'])
    write_spool(tmp_path / 'learner_run', episodes)          # successes and failures alike
    write_bags(tmp_path / 'job_run' / 'negatives', episodes[1:])
    buf = load_prior_buffer([tmp_path / 'learner_run', tmp_path / 'job_run'], space, ACTIONS)
    assert len(buf) == buf.capacity == 7 + 4
    rewards = buf.gather(torch.arange(len(buf)))['rewards'].numpy()
    expected = [tr['reward'] for ep in episodes + episodes[1:] for tr in ep]
    np.testing.assert_allclose(rewards, expected)


def test_a_serl_train_gym_run_gives_its_online_buffer(tmp_path):
    run = tmp_path / 'earlier'
    assert main(['--agent', 'sac', '--env', 'Pendulum-v1', '--steps', '120', '--run-dir',
                 str(run), '--no-progress', '--threads', '1', '--eval-every', '0',
                 '--learning-starts', '1000']) == 0
    env = gym.make('Pendulum-v1')
    buf = load_prior_buffer([run], env.observation_space,
                            gym.spaces.Box(-1.0, 1.0, (1,), np.float32))
    assert len(buf) == 120


def test_bad_prior_data_is_refused_naming_the_path_and_the_mismatch(tmp_path, episodes):
    space = observation_space_from(episodes[0][0]['observation'])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(PriorDataError, match=f'prior data {tmp_path / "empty"}: no '
                                             f'transitions'):
        load_prior_buffer([tmp_path / 'empty'], space, ACTIONS)
    with pytest.raises(PriorDataError, match='no such file or directory'):
        load_prior_buffer([tmp_path / 'missing'], space, ACTIONS)
    write_bags(tmp_path / 'bags', episodes)
    wider = gym.spaces.Dict({**space.spaces,
                             'gripper_width': gym.spaces.Box(0, 1, (2,), np.float32)})
    with pytest.raises(PriorDataError, match=r"prior data .*bags: .*\['gripper_width'\] has "
                                             r'shape \(1,\), the observation space has \(2,\)'):
        load_prior_buffer([tmp_path / 'bags'], wider, ACTIONS)
    more = gym.spaces.Dict({**space.spaces, 'object_rel': gym.spaces.Box(-1, 1, (3,))})
    write_spool(tmp_path / 'run', episodes)
    with pytest.raises(PriorDataError, match=r'prior data .*run: .*no key\(s\) '
                                             r"\['object_rel'\]"):
        load_prior_buffer([tmp_path / 'run'], more, ACTIONS)
    with pytest.raises(PriorDataError, match='prior data .*bags: its bags hold dict observations'):
        load_prior_buffer([tmp_path / 'bags'], gym.spaces.Box(-1, 1, (3,)), ACTIONS)
