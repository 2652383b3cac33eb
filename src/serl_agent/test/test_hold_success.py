"""Demos that hold their success: EpisodeRunner, EpisodeBagWriter and the nodes over real DDS."""

from agent_fixtures import ros_context, spin_until, start_node, stop_node
import gymnasium as gym
import numpy as np
import pytest
from rclpy.node import Node
from serl_agent.data.bag_io import EpisodeBagWriter, find_bags, make_typestore
from serl_agent.data.demo_buffer import load_demo_data, read_episodes
from serl_agent.data.transition_codec import dict_to_transition, rosbags_types
from serl_agent.runtime.episode_runner import as_agent_env, EpisodeRunner
from serl_common import qos
from serl_msgs.msg import Transition
import serl_sim  # noqa: F401 - registers PandaPickCube-v0


class CountingEnv(gym.Env):
    """Succeeds at the steps in ``success_steps`` (reward 1, terminated), else reward 0."""

    observation_space = gym.spaces.Box(-1e3, 1e3, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, success_steps):
        self.success_steps = set(success_steps)
        self.t = 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        succeed = self.t in self.success_steps
        return (np.full(1, self.t, np.float32), float(succeed), succeed, False,
                {'succeed': succeed})


def _run(success_steps, hold, max_steps=0):
    runner = EpisodeRunner(as_agent_env(CountingEnv(success_steps)), 'a', max_steps=max_steps,
                           success_hold_steps=hold)
    got = []
    result = runner.run_episode(lambda o: (np.zeros(1, np.float32), True), 0,
                                on_transition=got.append)
    return result, [(t['reward'], t['terminated'], t['truncated']) for t in got]


def test_runner_holds_success_then_ends_truncated():
    result, flags = _run(range(3, 100), hold=4)
    assert flags == [(0.0, False, False)] * 2 + [(1.0, True, False)] * 4 + [(1.0, True, True)]
    assert (result.steps, result.episode_return, result.success) == (7, 5.0, True)


def test_runner_without_hold_ends_at_the_first_success():
    _, flags = _run(range(3, 100), hold=0)
    assert flags == [(0.0, False, False)] * 2 + [(1.0, True, False)]


def test_runner_numbers_only_consumed_transitions():
    # an episode nobody consumes (an evaluation) must not leave a gap in the sequence numbers:
    # the learner acknowledges the highest contiguous one
    runner = EpisodeRunner(as_agent_env(CountingEnv([])), 'a', max_steps=3)
    got = []
    runner.run_episode(lambda o: (np.zeros(1, np.float32), False), 0, on_transition=got.append)
    runner.run_episode(lambda o: (np.zeros(1, np.float32), False), 1)
    runner.run_episode(lambda o: (np.zeros(1, np.float32), False), 2, on_transition=got.append)
    assert [(t['episode'], t['sequence']) for t in got] == \
        [(0, 1), (0, 2), (0, 3), (2, 4), (2, 5), (2, 6)]


def test_runner_hold_ends_when_the_success_is_lost():
    # success at steps 3-4, lost at 5: that step bootstraps (not terminated) and ends the episode
    _, flags = _run({3, 4}, hold=10)
    assert flags == [(0.0, False, False)] * 2 + [(1.0, True, False)] * 2 + [(0.0, False, True)]


def test_runner_hold_goes_past_max_steps():
    _, flags = _run(range(3, 100), hold=3, max_steps=3)
    assert len(flags) == 6 and flags[-1] == (1.0, True, True)


def test_negative_hold_is_rejected():
    with pytest.raises(ValueError, match='success_hold_steps'):
        EpisodeRunner(as_agent_env(CountingEnv({1})), 'a', success_hold_steps=-1)
    with pytest.raises(ValueError, match='success_hold_steps'):
        EpisodeBagWriter('unused', success_hold_steps=-1)


def test_writer_closes_after_the_held_steps(tmp_path):
    env = as_agent_env(CountingEnv(range(3, 100)))
    store = make_typestore()
    types = rosbags_types(store)
    runner = EpisodeRunner(env, 'h', success_hold_steps=4)
    with EpisodeBagWriter(tmp_path / 'd', typestore=store, success_hold_steps=4) as writer:
        closed = []
        for episode in range(2):
            runner.run_episode(
                lambda o: (np.zeros(1, np.float32), True), episode,
                on_transition=lambda t: closed.append(
                    (t['step'], writer.write(dict_to_transition(t, types), t['stamp_ns']))))
        assert writer.late == 0
    # each episode's bag closed once, on its last (7th) transition
    assert [(step, path.name) for step, path in closed if path is not None] == [
        (6, 'h_ep000000'), (6, 'h_ep000001')]
    episodes = read_episodes(tmp_path / 'd')
    assert [(len(e.transitions), e.complete, e.episode_return) for e in episodes] == [
        (7, True, 5.0), (7, True, 5.0)]


def test_actor_records_a_demo_that_holds_success(tmp_path):
    """The expert actor holds 5 steps; the recorder writes one complete bag; RLPD loads it."""
    hold = 5
    out = tmp_path / 'demos'
    rec_log, act_log = tmp_path / 'recorder.log', tmp_path / 'actor.log'
    with ros_context() as (context, executor):
        node = Node('hold_test', context=context)
        executor.add_node(node)
        probe = node.create_publisher(Transition, '/serl/transitions', qos.TRANSITIONS)
        recorder, rlog = start_node('demo_recorder_node', {
            'output': str(out), 'acknowledge': True, 'success_hold_steps': hold}, rec_log)
        actor = alog = None
        try:
            spin_until(executor, lambda: probe.get_subscription_count() > 0
                       or recorder.poll() is not None, 30.0, 'the recorder to subscribe')
            actor, alog = start_node('actor_node', {
                'env': 'PandaPickCube-v0', 'policy': 'expert', 'max_episodes': 1,
                'success_hold_steps': hold, 'actor_id': 'holder', 'drain_timeout': 30.0},
                act_log)
            # the actor exits after its drain: every transition acknowledged, i.e. on disk
            spin_until(executor, lambda: actor.poll() is not None, 120.0, 'the actor to finish')
            assert actor.returncode == 0, act_log.read_text()
        finally:
            if actor is not None:
                stop_node(actor, alog)
            stop_node(recorder, rlog)
        node.destroy_node()
    logs = act_log.read_text() + rec_log.read_text()
    assert 'still unacknowledged' not in logs, logs
    assert [b.name for b in find_bags(out)] == ['holder_ep000000'], logs
    (episode,) = read_episodes(out)
    flags = [(t['reward'], t['terminated'], t['truncated'], t['success'])
             for t in episode.transitions]
    first = next(i for i, f in enumerate(flags) if f[3])
    assert flags[first:] == [(1.0, True, False, True)] * hold + [(1.0, True, True, True)], flags
    assert all(f == (0.0, False, False, False) for f in flags[:first])
    assert [t['step'] for t in episode.transitions] == list(range(len(flags)))
    env = gym.make('PandaPickCube-v0')
    buffer, summaries = load_demo_data(out, env.observation_space, env.action_space,
                                       successful_only=True)
    env.close()
    assert len(buffer) == len(flags)
    assert [(s.episode, s.steps, s.success, s.complete) for s in summaries] == [
        (0, len(flags), True, True)]
