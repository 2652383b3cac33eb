"""demo_recorder node over real DDS: per-episode bags, acks once on disk, crash keeps episodes."""

import signal
import subprocess
import sys

from agent_fixtures import assert_transition_equal, make_episode, ros_context, spin_until
import numpy as np
from rclpy.node import Node
from serl_agent.data.bag_io import find_bags, read_transitions
from serl_agent.data.demo_buffer import read_episodes
from serl_agent.data.transition_codec import dict_to_transition, rclpy_types, transition_to_dict
from serl_common import qos
from serl_msgs.msg import Transition, TransitionAck


def _start_recorder(node, executor, out, actor_id=None):
    """
    Start a demo recorder process (acknowledging) and wait until it subscribes.

    Returns (transition publisher, acknowledged sequences (list, filled by ``executor``), proc).
    """
    acks = []
    node.create_subscription(TransitionAck, '/serl/transition_ack',
                             lambda m: acks.append(m.sequence)
                             if actor_id in (None, m.actor_id) else None, qos.RELIABLE)
    pub = node.create_publisher(Transition, '/serl/transitions', qos.TRANSITIONS)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'serl_agent.ros.demo_recorder_node', '--ros-args',
         '-p', f'output:={out}', '-p', 'acknowledge:=true'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        spin_until(executor, lambda: pub.get_subscription_count() > 0
                   or proc.poll() is not None, 30.0, 'the recorder to subscribe')
    except AssertionError:
        proc.kill()
        raise
    return pub, acks, proc


def test_recorder_acks_episodes_and_survives_a_crash(tmp_path):
    rng = np.random.default_rng(0)
    ep0 = make_episode(rng, 'rec', 0, 4, 1, images=True)
    ep1 = make_episode(rng, 'rec', 1, 4, 5, images=True)
    out = tmp_path / 'demos'
    types = rclpy_types()
    with ros_context() as (context, executor):
        node = Node('recorder_test', context=context)
        executor.add_node(node)
        pub, acks, proc = _start_recorder(node, executor, out)
        try:
            for tr in ep0 + ep0[:1] + ep1[:2]:  # episode 0, a re-sent duplicate, half of 1
                pub.publish(dict_to_transition(tr, types))
            spin_until(executor, lambda: acks and max(acks) >= 4, 30.0,
                       'the acknowledgement of episode 0')
            assert max(acks) == 4  # episode 1 is not on disk yet: not acknowledged
        finally:
            proc.send_signal(signal.SIGKILL)  # crash
            output = proc.communicate(timeout=20)[0]
        node.destroy_node()
    bags = find_bags(out)
    assert [b.name for b in bags] == ['rec_ep000000'], output
    got = [transition_to_dict(m.msg) for m in read_transitions(out)]
    assert len(got) == 4
    for g, want in zip(got, ep0):
        assert_transition_equal(g, want)


def test_recorder_closes_an_aborted_episode_and_acknowledges_it(tmp_path):
    """An aborted episode is kept once as _incomplete and acknowledged; re-sends add nothing."""
    rng = np.random.default_rng(2)
    aborted = make_episode(rng, 'ab', 0, 5, 1)[:3]  # no terminal transition: aborted
    ep1 = make_episode(rng, 'ab', 1, 4, 4)
    ep2 = make_episode(rng, 'ab', 2, 1, 8)
    out = tmp_path / 'demos'
    types = rclpy_types()
    with ros_context() as (context, executor):
        node = Node('recorder_abort_test', context=context)
        executor.add_node(node)
        pub, acks, proc = _start_recorder(node, executor, out, actor_id='ab')
        try:
            for tr in aborted + ep1:
                pub.publish(dict_to_transition(tr, types))
            spin_until(executor, lambda: acks and max(acks) >= 7, 20.0,
                       'the acknowledgement of the aborted episode and the next')
            # the actor re-sends everything (its drain), then records one more episode
            for tr in aborted + ep1 + ep2:
                pub.publish(dict_to_transition(tr, types))
            spin_until(executor, lambda: max(acks) >= 8, 20.0, 'the acknowledgement of ep 2')
        finally:
            proc.send_signal(signal.SIGINT)  # clean shutdown: close() writes what is open
            try:
                output = proc.communicate(timeout=20)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                output = proc.communicate()[0]
        node.destroy_node()
    assert [b.name for b in find_bags(out)] == ['ab_ep000000_incomplete', 'ab_ep000001',
                                                'ab_ep000002'], output
    episodes = read_episodes(out)
    assert [(e.episode, len(e.transitions), e.complete) for e in episodes] == [
        (0, 3, False), (1, 4, True), (2, 1, True)], output
    assert 'aborted' in output
