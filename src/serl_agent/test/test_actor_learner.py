"""Actor and learner nodes as separate processes over real DDS, including a learner crash."""

import re
import signal
import time

from agent_fixtures import make_episode, ros_context, spin_until, start_node, stop_node
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from rclpy.node import Node
from serl_agent.data.bag_io import EpisodeBagWriter, make_typestore, TRANSITION_TYPE
from serl_agent.data.transition_codec import dict_to_transition, rosbags_types
from serl_agent.data.transition_spool import read_spool
from serl_agent.runtime.learner import SPOOL_NAME
from serl_common import qos
from serl_msgs.msg import LearnerStatus, PolicyWeights, TransitionAck

RLPD_SMALL = """rlpd:
  batch_size: 32
  utd_ratio: 2
  hidden_dims: [32, 32]
  num_critics: 2
"""


class Observer:
    """Test-side node that watches acks, weights and learner status."""

    def __init__(self, context):
        self.node = Node('observer', context=context)
        self.acks, self.weights, self.status = {}, [], []
        self.node.create_subscription(TransitionAck, '/serl/transition_ack', self._ack,
                                      qos.RELIABLE)
        self.node.create_subscription(PolicyWeights, '/serl/policy_weights',
                                      lambda m: self.weights.append(m.version), qos.LATCHED)
        self.node.create_subscription(LearnerStatus, '/serl/learner_status',
                                      lambda m: self.status.append(m), qos.RELIABLE)
        self.diagnostics = set()
        self.node.create_subscription(
            DiagnosticArray, '/diagnostics',
            lambda m: self.diagnostics.update(s.name for s in m.status), qos.RELIABLE)

    def _ack(self, msg):
        self.acks[msg.actor_id] = max(self.acks.get(msg.actor_id, 0), msg.sequence)


def _learner_params(tmp_path):
    (tmp_path / 'rlpd.yaml').write_text(RLPD_SMALL)
    return {'run_dir': str(tmp_path / 'run'), 'rlpd_config': str(tmp_path / 'rlpd.yaml'),
            'training_starts': 20, 'publish_every': 1, 'checkpoint_every': 2.0,
            'torch_threads': 1, 'status_period': 0.5}


def _actor_params(episodes, rate):
    return {'env': 'Pendulum-v1', 'actor_id': 'test_actor', 'max_episodes': episodes,
            'max_episode_steps': 40, 'gym_rate': rate, 'resend_after': 1.0,
            'drain_timeout': 30.0}


def _spooled(run_dir):
    store = make_typestore()
    return [(m.actor_id, m.sequence) for m in
            (store.deserialize_cdr(d, TRANSITION_TYPE) for d in read_spool(run_dir / SPOOL_NAME))]


def _log_has(path, text):
    return path.exists() and text in path.read_text()


def _acknowledged(log_text):
    match = re.search(r'(\d+) transitions acknowledged, (\d+) unacknowledged, (\d+) dropped',
                      log_text)
    assert match, log_text
    return tuple(int(g) for g in match.groups())


def _run_actor_until(tmp_path, actor_params, done, what):
    """
    Run a learner and an actor until ``done(actor_log_text)``, then SIGINT the actor.

    :returns: (observer, actor log text, (acknowledged, unacknowledged, dropped)) once the
        learner's status counts every acknowledged transition.
    """
    alog_path = tmp_path / 'a.log'
    with ros_context() as (context, executor):
        obs = Observer(context)
        executor.add_node(obs.node)
        learner, llog = start_node('learner_node', _learner_params(tmp_path), tmp_path / 'l.log')
        actor = alog = None
        try:
            spin_until(executor, lambda: obs.status or learner.poll() is not None, 60.0,
                       'the learner to report status')
            actor, alog = start_node('actor_node', actor_params, alog_path)
            spin_until(executor, lambda: done(alog_path.read_text()) or actor.poll() is not None,
                       90.0, what)
            # its 1 Hz diagnostics at least once (under load the condition above can come first)
            spin_until(executor, lambda: any(d.startswith('actor_node') for d in obs.diagnostics)
                       or actor.poll() is not None, 30.0, "the actor's diagnostics")
            actor.send_signal(signal.SIGINT)  # ends the episode, drains, exits
            spin_until(executor, lambda: actor.poll() is not None, 40.0, 'the actor to exit')
            text = alog_path.read_text()
            assert actor.returncode == 0, text
            counts = _acknowledged(text)
            spin_until(executor, lambda: obs.status and obs.status[-1].env_steps == counts[0],
                       20.0, 'the final status')
        finally:
            if actor is not None:
                stop_node(actor, alog)
            assert stop_node(learner, llog) == 0, (tmp_path / 'l.log').read_text()
        obs.node.destroy_node()
    return obs, text, counts


def test_actor_learner_over_dds(tmp_path):
    """Transitions flow, weights reach the actor and are used, every transition is acked."""
    obs, _, (total, unacked, dropped) = _run_actor_until(
        tmp_path, _actor_params(0, 50.0), lambda text: re.search(r'policy version \d+', text),
        'an episode run with learnt weights')
    assert (unacked, dropped) == (0, 0) and total >= 40
    assert obs.acks['test_actor'] == total
    assert obs.weights
    assert {'learner_node: learner', 'actor_node: actor'} <= obs.diagnostics
    last = obs.status[-1]
    assert last.critic_updates > 0 and last.achieved_utd > 0 and last.actor_updates > 0
    assert sorted(_spooled(tmp_path / 'run')) == [('test_actor', s) for s in range(1, total + 1)]
    assert (tmp_path / 'run' / 'checkpoints' / 'latest.json').exists()


def _episode_steps(log_text, kind):
    """Return the step counts of the actor's ``episode`` or ``evaluation`` log lines."""
    pattern = r'\]: episode \d+: (\d+) steps' if kind == 'episode' else \
        r'\]: evaluation \d+\.\d+ \d+: (\d+) steps'
    return [int(n) for n in re.findall(pattern, log_text)]


def _trained_after_evaluation(log_text):
    first = log_text.find(']: evaluation 0.0 ')
    return first >= 0 and ']: episode ' in log_text[first:]


def test_evaluation_transitions_are_not_sent(tmp_path):
    """Evaluation episodes run but the learner neither receives nor counts their steps."""
    params = dict(_actor_params(0, 100.0), eval_every=1, eval_episodes=1)
    # a training episode after an evaluation round: the numbering must go on
    obs, text, (total, unacked, dropped) = _run_actor_until(
        tmp_path, params, _trained_after_evaluation, 'an evaluation, then training')
    evaluated = _episode_steps(text, 'evaluation')
    assert evaluated and all(n > 0 for n in evaluated), text
    assert (unacked, dropped) == (0, 0)
    assert total == sum(_episode_steps(text, 'episode')), text
    assert obs.acks['test_actor'] == total
    assert sorted(_spooled(tmp_path / 'run')) == [('test_actor', s) for s in range(1, total + 1)]


def test_learner_crash_loses_nothing(tmp_path):
    """SIGKILL the learner mid-run, restart on the same run dir: each transition arrives once."""
    params = _learner_params(tmp_path)
    alog_path = tmp_path / 'a.log'
    with ros_context() as (context, executor):
        obs = Observer(context)
        executor.add_node(obs.node)
        learner, llog = start_node('learner_node', params, tmp_path / 'l1.log')
        actor = alog = None
        try:
            spin_until(executor, lambda: obs.status or learner.poll() is not None, 60.0,
                       'the learner to report status')
            actor, alog = start_node('actor_node', _actor_params(0, 50.0), alog_path)
            spin_until(executor, lambda: obs.acks.get('test_actor', 0) >= 30, 60.0,
                       'the first acknowledgements')
            stop_node(learner, llog, signal.SIGKILL)
            crashed_at = obs.acks['test_actor']
            learner, llog = start_node('learner_node', params, tmp_path / 'l2.log')
            spin_until(executor, lambda: obs.acks['test_actor'] >= crashed_at + 60, 90.0,
                       'acknowledgements from the restarted learner')
            actor.send_signal(signal.SIGINT)
            spin_until(executor, lambda: actor.poll() is not None, 40.0, 'the actor to exit')
            assert actor.returncode == 0, alog_path.read_text()
        finally:
            if actor is not None:
                stop_node(actor, alog)
            assert stop_node(learner, llog) == 0, (tmp_path / 'l2.log').read_text()
        obs.node.destroy_node()
    total, unacked, dropped = _acknowledged(alog_path.read_text())
    assert (unacked, dropped) == (0, 0)
    restarted = (tmp_path / 'l2.log').read_text()
    match = re.search(r'(\d+) transitions from the spool, agent from (\S+)', restarted)
    assert match and int(match.group(1)) >= crashed_at, restarted
    spooled = _spooled(tmp_path / 'run')
    assert len(spooled) == len(set(spooled)) == total
    assert sorted(spooled) == [('test_actor', s) for s in range(1, total + 1)]


def test_actor_crash_transitions_resent_by_the_next_actor(tmp_path):
    """An actor killed with unacknowledged transitions: the next actor process re-sends them."""
    spool_dir = tmp_path / 'actor_spool'
    params = dict(_actor_params(0, 50.0), spool_dir=str(spool_dir))
    first, flog = start_node('actor_node', params, tmp_path / 'a1.log')  # no learner: no acks
    spool_file = spool_dir / 'test_actor.spool'
    try:
        deadline = time.monotonic() + 60.0
        while len(list(read_spool(spool_file))) < 20 if spool_file.exists() else True:
            assert first.poll() is None and time.monotonic() < deadline, \
                (tmp_path / 'a1.log').read_text()
            time.sleep(0.05)  # polling a file another process writes: no event to wait on
    finally:
        stop_node(first, flog, signal.SIGKILL)  # crash
    crashed = len(list(read_spool(spool_file))) - 1  # minus the header record
    params.update(actor_id='second_actor', max_episodes=1)
    with ros_context() as (context, executor):
        obs = Observer(context)
        executor.add_node(obs.node)
        learner, llog = start_node('learner_node', _learner_params(tmp_path), tmp_path / 'l.log')
        second = slog = None
        try:
            spin_until(executor, lambda: obs.status or learner.poll() is not None, 60.0,
                       'the learner to report status')
            second, slog = start_node('actor_node', params, tmp_path / 'a2.log')
            spin_until(executor, lambda: obs.acks.get('test_actor', 0) >= crashed
                       and second.poll() is not None, 90.0,
                       f'the {crashed} transitions of the crashed actor and the second actor')
            assert second.returncode == 0, (tmp_path / 'a2.log').read_text()
        finally:
            if second is not None:
                stop_node(second, slog)
            stop_node(learner, llog)
        obs.node.destroy_node()
    assert 'test_actor from' in (tmp_path / 'a2.log').read_text()
    spooled = _spooled(tmp_path / 'run')
    first_ids = sorted(s for a, s in spooled if a == 'test_actor')
    assert first_ids == list(range(1, crashed + 1))
    assert not list(spool_dir.glob('*.spool')), list(spool_dir.iterdir())


def test_learner_node_runs_another_agent_from_its_parameter(tmp_path):
    """agent: bc clones the demo bags in its offline phase and publishes that policy."""
    store = make_typestore()
    types = rosbags_types(store)
    rng = np.random.default_rng(0)
    with EpisodeBagWriter(tmp_path / 'demos', typestore=store) as writer:
        for ep in range(2):
            for tr in make_episode(rng, 'demo', ep, 5):
                writer.write(dict_to_transition(tr, types), tr['stamp_ns'])
    (tmp_path / 'bc.yaml').write_text('bc: {offline_steps: 30, batch_size: 8, '
                                      'hidden_dims: [16]}\n')
    params = {'run_dir': str(tmp_path / 'run'), 'agent': 'bc',
              'agent_config': str(tmp_path / 'bc.yaml'), 'demo_paths': [str(tmp_path / 'demos')],
              'torch_threads': 1, 'status_period': 0.3}
    with ros_context() as (context, executor):
        obs = Observer(context)
        executor.add_node(obs.node)
        learner, llog = start_node('learner_node', params, tmp_path / 'l.log')
        try:
            spin_until(executor, lambda: 30 in obs.weights or learner.poll() is not None, 60.0,
                       'the weights after the offline phase')
            spin_until(executor, lambda: obs.status and obs.status[-1].actor_updates == 30,
                       20.0, 'the status after the offline phase')
            assert obs.status[-1].critic_updates == 0 and obs.status[-1].env_steps == 0
        finally:
            assert stop_node(learner, llog) == 0, (tmp_path / 'l.log').read_text()
        obs.node.destroy_node()
    assert 'bc agent, run' in (tmp_path / 'l.log').read_text()


def test_nodes_refuse_a_missing_image_encoder_naming_the_file(tmp_path):
    missing = tmp_path / 'image_encoder.pt'
    for module, params in (('learner_node', {'run_dir': str(tmp_path / 'run')}),
                           ('actor_node', {'env': 'gym'})):
        proc, log = start_node(module, dict(params, image_encoder=str(missing)),
                               tmp_path / f'{module}.log')
        try:
            proc.wait(timeout=60)
        finally:
            code = stop_node(proc, log)
        text = (tmp_path / f'{module}.log').read_text()
        assert code == 1 and f'image encoder file {missing} does not exist' in text, text
