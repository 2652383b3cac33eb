"""demo_recorder node over real DDS: per-episode bags, acks once on disk, crash keeps episodes."""

import signal
import subprocess
import sys

from agent_fixtures import assert_transition_equal, make_episode, ros_context, spin_until
import numpy as np
from rclpy.node import Node
from serl_agent import qos
from serl_agent.bag_io import find_bags, read_transitions
from serl_agent.transition_codec import dict_to_transition, rclpy_types, transition_to_dict
from serl_msgs.msg import Transition, TransitionAck


def test_recorder_acks_episodes_and_survives_a_crash(tmp_path):
    rng = np.random.default_rng(0)
    ep0 = make_episode(rng, 'rec', 0, 4, 1, images=True)
    ep1 = make_episode(rng, 'rec', 1, 4, 5, images=True)
    out = tmp_path / 'demos'
    types = rclpy_types()
    with ros_context() as (context, executor):
        node = Node('recorder_test', context=context)
        executor.add_node(node)
        acks = []
        node.create_subscription(TransitionAck, '/serl/transition_ack',
                                 lambda m: acks.append(m.sequence), qos.RELIABLE)
        pub = node.create_publisher(Transition, '/serl/transitions', qos.TRANSITIONS)
        proc = subprocess.Popen(
            [sys.executable, '-m', 'serl_agent.demo_recorder_node', '--ros-args',
             '-p', f'output:={out}', '-p', 'acknowledge:=true'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            spin_until(executor, lambda: pub.get_subscription_count() > 0
                       or proc.poll() is not None, 30.0, 'the recorder to subscribe')
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
