"""serl_msgs/Transition over real DDS between two processes (publisher here is a subprocess)."""

from pathlib import Path
import subprocess
import sys

from agent_fixtures import assert_transition_equal, make_episode, ros_context, spin_until
import numpy as np
from rclpy.node import Node
from serl_agent.data.transition_codec import transition_to_dict
from serl_common import qos
from serl_msgs.msg import Transition, TransitionAck

HERE = Path(__file__).resolve().parent


def test_transitions_cross_process():
    count, seed = 20, 7
    with ros_context() as (context, executor):
        node = Node('xproc_subscriber', context=context)
        executor.add_node(node)
        received = []
        node.create_subscription(Transition, '/serl/transitions',
                                 lambda m: received.append(transition_to_dict(m)),
                                 qos.TRANSITIONS)
        ack_pub = node.create_publisher(TransitionAck, '/serl/transition_ack', qos.RELIABLE)
        proc = subprocess.Popen([sys.executable, str(HERE / 'xproc_publisher.py'),
                                 '--count', str(count), '--seed', str(seed)],
                                cwd=HERE, stderr=subprocess.PIPE, text=True)
        try:
            spin_until(executor, lambda: len(received) >= count or proc.poll() is not None,
                       30.0, f'{count} transitions from the publisher process')
            assert len(received) == count, proc.stderr.read()
            spin_until(executor, lambda: ack_pub.get_subscription_count() > 0, 10.0,
                       'the publisher to subscribe to acks')
            ack = TransitionAck(actor_id='xproc', sequence=count)
            ack_pub.publish(ack)
            spin_until(executor, lambda: proc.poll() is not None, 15.0,
                       'the publisher to exit after the ack')
            assert proc.returncode == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
        node.destroy_node()
    expected = make_episode(np.random.default_rng(seed), 'xproc', steps=count, images=True)
    for got, want in zip(received, expected):
        assert_transition_equal(got, want)
