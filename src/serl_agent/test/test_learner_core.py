"""Learner core without ROS: spool-before-ack, duplicates, restart, validation, memory cap."""

from agent_fixtures import make_episode
import numpy as np
import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.data.bag_io import make_typestore, TRANSITION_TYPE
from serl_agent.data.transition_codec import (dict_to_transition, observation_space_from,
                                              rosbags_types)
from serl_agent.runtime.learner import Learner, LearnerSettings
import torch

SMALL = RLPDConfig(batch_size=8, utd_ratio=2, hidden_dims=(16, 16), num_critics=2)


def _cdr(trs):
    store = make_typestore()
    types = rosbags_types(store)
    return [store.serialize_cdr(dict_to_transition(t, types), TRANSITION_TYPE) for t in trs]


def test_receive_ack_restart(tmp_path):
    settings = LearnerSettings(run_dir=str(tmp_path / 'run'), training_starts=4, publish_every=1)
    eps = make_episode(np.random.default_rng(0), 'a', 0, 6)
    data = _cdr(eps)
    learner = Learner(settings, SMALL)
    assert [learner.receive(d) for d in data[:4]] == [True] * 4
    assert not learner.receive(data[1])  # duplicate
    assert learner.persist() == {'a': 4}
    assert learner.train_step()  # builds the agent, trains once
    weights = learner.take_weights()
    assert weights is not None and weights[0] == learner.agent.actor_updates == 1
    bad = dict(eps[4])
    bad['observation'] = dict(bad['observation'], tcp_pose=np.zeros(5, np.float32))
    with pytest.raises(ValueError, match='tcp_pose'):
        learner.receive(_cdr([bad])[0])
    assert learner.receive(data[5])  # 5 missing: the watermark waits
    assert learner.persist() == {}
    learner.stop(save=True)

    again = Learner(settings, SMALL)  # restart on the same run dir
    assert again.spooled_on_start == 5 and again.env_steps == 5
    assert again.watermarks() == {'a': 4}
    assert again.resumed_from is not None
    assert not again.receive(data[0]) and again.receive(data[4])
    assert again.persist() == {'a': 6}
    again.stop(save=False)


def test_online_capacity_fits_memory(tmp_path):
    tr = make_episode(np.random.default_rng(0), steps=1, images=True)[0]
    space = observation_space_from(tr['observation'])
    learner = Learner(LearnerSettings(run_dir=str(tmp_path / 'run'), online_capacity=10**6,
                                      max_buffer_gb=0.001), SMALL)
    per = 2 * (7 + 6 + 1 + 3) * 4 + 2 * 2 * 16 * 16 * 3 + 4 * 4 + 12
    assert learner.online_capacity(space, 4) == int(1e6 // per)
    learner.stop(save=False)


def test_interventions_go_to_the_online_and_the_demo_buffer(tmp_path):
    """HIL-SERL: a person's corrections are demonstrations too; a restart rebuilds them."""
    eps = make_episode(np.random.default_rng(1), 'a', 0, 6)   # make_episode marks intervention
    for i, tr in enumerate(eps):
        tr['intervention'] = i < 4
    settings = LearnerSettings(run_dir=str(tmp_path / 'run'), training_starts=100,
                               intervention_capacity=10)
    learner = Learner(settings, SMALL)
    for data in _cdr(eps):
        assert learner.receive(data)
    learner.persist()
    learner.train_step()   # drains the queue (too few transitions to train)
    assert len(learner.online) == 6 and len(learner.demo) == 4
    assert learner.status()['interventions'] == 4 and learner.status()['demo_buffer'] == 4
    np.testing.assert_allclose(learner.demo.gather(torch.arange(4))['actions'].numpy(),
                               np.stack([tr['action'] for tr in eps[:4]]))
    learner.stop(save=False)
    again = Learner(settings, SMALL)   # from the spool: the same split
    assert len(again.online) == 6 and len(again.demo) == 4
    again.stop(save=False)
    off = Learner(LearnerSettings(run_dir=str(tmp_path / 'off'), intervention_capacity=0),
                  SMALL)
    for data in _cdr(eps):
        off.receive(data)
    off.train_step()
    assert len(off.online) == 6 and off.demo is None
    off.stop(save=False)


def test_image_encoder_turns_images_into_features_before_any_buffer(tmp_path):
    from serl_agent.vision.image_features import EncoderFileError, save_encoders
    from serl_agent.vision.spatial_autoencoder import SpatialAutoencoderConfig, SpatialEncoder
    config = SpatialAutoencoderConfig(input_size=16, channels=(4, 3), reconstruction_size=8)
    encoder_file = save_encoders(tmp_path / 'enc.pt', {
        c: SpatialEncoder(config).eval() for c in ('front', 'wrist')})
    keys = ('tcp_pose', 'tcp_vel', 'gripper_width', 'front', 'wrist')
    settings = LearnerSettings(run_dir=str(tmp_path / 'run'), training_starts=4,
                               publish_every=1, observation_keys=keys,
                               image_encoder=str(encoder_file))
    learner = Learner(settings, SMALL)
    for d in _cdr(make_episode(np.random.default_rng(0), 'a', 0, 6, images=True)):
        assert learner.receive(d)
    assert learner.train_step()
    spaces = learner.observation_space.spaces
    assert sorted(spaces) == ['front_features', 'gripper_width', 'tcp_pose', 'tcp_vel',
                              'wrist_features']
    assert spaces['front_features'].shape == (6,)
    assert sorted(learner.online.sample(2)['observations']) == sorted(spaces)
    learner.stop(save=True)
    again = Learner(settings, SMALL)   # the spool holds images: encoded again on restart
    assert again.spooled_on_start == 6
    again.stop(save=False)

    with pytest.raises(EncoderFileError, match='nothing.pt'):
        Learner(LearnerSettings(run_dir=str(tmp_path / 'run2'),
                                image_encoder=str(tmp_path / 'nothing.pt')), SMALL)


def _train_until_idle(learner, most=100):
    calls = 0
    while calls < most and learner.train_step():
        calls += 1
    return calls


def test_learner_holds_the_configured_utd_unless_flat_out(tmp_path):
    """Critic updates per received env step: utd_ratio (default), max_utd, or no limit."""
    data = _cdr(make_episode(np.random.default_rng(2), 'a', 0, 7))
    held = Learner(LearnerSettings(run_dir=str(tmp_path / 'held'), training_starts=4), SMALL)
    for d in data[:6]:
        held.receive(d)
    assert _train_until_idle(held) == 6   # one update (G = 2 critic steps) per env step
    assert held.agent.critic_updates == 2 * 6 == held.utd_limit * held.env_steps
    assert held.status()['achieved_utd'] == 2.0
    held.receive(data[6])
    assert _train_until_idle(held) == 1 and held.agent.critic_updates == 14
    held.stop(save=False)

    capped = Learner(LearnerSettings(run_dir=str(tmp_path / 'capped'), training_starts=4,
                                     max_utd=1.0), SMALL)
    for d in data[:6]:
        capped.receive(d)
    assert _train_until_idle(capped) == 3 and capped.agent.critic_updates == 6
    capped.status()
    capped.receive(data[6])
    assert _train_until_idle(capped) == 0   # 6 + G = 8 updates would exceed 1 x 7 steps
    # a window of one new step and no update says little: the run's ratio, not 0
    status = capped.status()
    assert status['run_utd'] == status['achieved_utd'] == 6 / 7
    capped.stop(save=False)

    fast = Learner(LearnerSettings(run_dir=str(tmp_path / 'fast'), training_starts=4,
                                   flat_out=True), SMALL)
    for d in data[:6]:
        fast.receive(d)
    assert _train_until_idle(fast, most=20) == 20   # never waits for env steps
    assert fast.agent.critic_updates == 40
    fast.stop(save=False)
