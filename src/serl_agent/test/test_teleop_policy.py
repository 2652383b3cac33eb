"""Teleop policy core: twist -> action scaling, clipping, staleness, buttons, episode ends."""

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.runtime.episode_runner import EpisodeRunner
from serl_agent.runtime.teleop_policy import (ABORT, SUCCESS, TeleopEpisodeEnd, TeleopPolicy,
                                              TeleopSettings, twist_to_motion)


class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_velocity_maps_to_one_step_translation_over_action_scale():
    s = TeleopSettings(action_scale=0.03, control_rate=10.0)
    # 0.15 m/s for 0.1 s = 0.015 m = half of action_scale
    np.testing.assert_allclose(twist_to_motion((0.15, -0.15, 0.0), s), (0.5, -0.5, 0.0))


def test_motion_is_clipped_and_small_values_are_zero():
    s = TeleopSettings(action_scale=0.03, control_rate=10.0, deadband=0.05)
    np.testing.assert_allclose(twist_to_motion((5.0, -5.0, 0.001), s), (1.0, -1.0, 0.0))


def test_twist_scale_turns_a_unitless_spacenav_twist_into_m_per_s():
    s = TeleopSettings(action_scale=0.03, control_rate=10.0, twist_scale=0.3)
    np.testing.assert_allclose(twist_to_motion((1.0, 0.0, -0.5), s), (1.0, 0.0, -0.5))


@pytest.mark.parametrize('bad', [(np.nan, 0, 0), (0, np.inf, 0), (1.0, 2.0)])
def test_bad_velocity_is_rejected_and_stops_motion(bad):
    clock = _Clock()
    policy = TeleopPolicy(TeleopSettings(), clock=clock)
    policy.on_twist((0.3, 0.0, 0.0))
    assert policy.action()[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match='teleop linear velocity'):
        policy.on_twist(bad)
    np.testing.assert_array_equal(policy.action()[:3], 0.0)


@pytest.mark.parametrize('field, value', [('action_scale', 0.0), ('control_rate', -1.0),
                                          ('timeout', 0.0), ('deadband', 1.0)])
def test_bad_settings_are_named(field, value):
    with pytest.raises(ValueError, match=field):
        TeleopPolicy(TeleopSettings(**{field: value}))


def test_stale_twist_gives_zero_motion():
    clock = _Clock()
    policy = TeleopPolicy(TeleopSettings(timeout=0.5), clock=clock)
    np.testing.assert_array_equal(policy.action(), (0, 0, 0, 1))  # nothing yet: still, open
    policy.on_twist((0.0, 0.0, -0.3))
    np.testing.assert_allclose(policy.action(), (0, 0, -1, 1))
    assert policy.active()
    clock.t += 0.49
    assert policy.action()[2] == pytest.approx(-1.0)
    clock.t += 0.02
    np.testing.assert_array_equal(policy.action(), (0, 0, 0, 1))
    assert not policy.active()
    assert policy.input_age() == pytest.approx(0.51)


def test_gripper_buttons_latch_and_reset_opens():
    policy = TeleopPolicy(TeleopSettings())
    policy.on_buttons([1, 0, 0, 0])
    policy.on_buttons([0, 0, 0, 0])  # released: stays closed
    assert policy.action()[3] == -1.0
    policy.on_buttons([1, 1])        # both: ignored
    assert policy.action()[3] == -1.0
    policy.on_buttons([0, 1])        # spacenav's two-button Joy
    assert policy.action()[3] == 1.0
    policy.on_buttons([1])
    policy.reset_episode()
    assert policy.action()[3] == 1.0
    action, intervention = policy({'tcp_pose': np.zeros(7)})
    assert intervention and action.dtype == np.float32 and action.shape == (4,)


def test_success_and_abort_are_events_on_the_press():
    policy = TeleopPolicy(TeleopSettings())
    assert policy.take_episode_event() is None
    policy.on_buttons([0, 0, 1, 0])
    policy.on_buttons([0, 0, 1, 0])  # still held: the same press
    assert policy.take_episode_event() == SUCCESS
    assert policy.take_episode_event() is None
    policy.on_buttons([0, 0, 0, 1])
    assert policy.take_episode_event() == ABORT
    policy.on_buttons([0, 0, 1, 0])
    policy.on_buttons([0, 0, 0, 0])
    policy.reset_episode()           # a press before the episode started is forgotten
    assert policy.take_episode_event() is None


class _Env(gym.Env):
    """A tiny Dict-observation env that never succeeds on its own."""

    observation_space = gym.spaces.Dict({'x': gym.spaces.Box(-1, 1, (1,), np.float32)})
    action_space = gym.spaces.Box(-1, 1, (4,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return {'x': np.zeros(1, np.float32)}, {}

    def step(self, action):
        return {'x': np.zeros(1, np.float32)}, 0.0, False, False, {'succeed': False}


@pytest.mark.parametrize('event, success', [(SUCCESS, True), (ABORT, False)])
def test_button_ends_the_episode(event, success):
    policy = TeleopPolicy(TeleopSettings())
    env = TeleopEpisodeEnd(_Env(), policy)
    steps = []

    def act(obs):
        if len(steps) == 3:
            policy.on_buttons([0, 0, 1, 0] if event == SUCCESS else [0, 0, 0, 1])
        return policy(obs)

    result = EpisodeRunner(env, 'teleop', max_steps=50).run_episode(
        act, 0, on_transition=steps.append)
    assert result.steps == 4 and result.success == success
    last = steps[-1]
    assert last['terminated'] == success and last['truncated'] == (not success)
    assert last['reward'] == (1.0 if success else 0.0) and last['success'] == success
    assert all(tr['intervention'] for tr in steps)


def test_intervention_is_active_on_motion_or_a_held_gripper_button():
    clock = _Clock()
    policy = TeleopPolicy(TeleopSettings(timeout=0.5), clock=clock)
    assert not policy.active()
    policy.on_twist((0.0, 0.0, 0.0))
    assert not policy.active()           # a resting input is no intervention
    policy.on_twist((0.0, 0.15, 0.0))
    assert policy.active()
    np.testing.assert_allclose(policy.intervention_action(), (0, 0.5, 0, 0))  # gripper kept
    clock.t += 1.0
    assert not policy.active()
    policy.on_buttons([1, 0])
    assert policy.active()
    np.testing.assert_allclose(policy.intervention_action(), (0, 0, 0, -1))
    policy.on_buttons([0, 0])
    assert not policy.active()
    policy.reset_episode()
    assert policy.intervention_action()[3] == 0.0
