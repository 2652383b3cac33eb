"""Publisher half of the cross-process test: publish transitions, exit once acknowledged."""

import argparse
import sys
import time

import numpy as np
import rclpy
from rclpy.node import Node

from serl_agent.data.transition_codec import dict_to_transition, rclpy_types
from serl_common import qos
from serl_msgs.msg import Transition, TransitionAck

from agent_fixtures import make_episode  # noqa: I100 - test helper next to this file


def main():
    """Publish ``--count`` transitions once a subscriber matched; wait for the ack."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--count', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--timeout', type=float, default=30.0)
    args = parser.parse_args()
    rclpy.init()
    node = Node('xproc_publisher')
    acked = []
    node.create_subscription(TransitionAck, '/serl/transition_ack',
                             lambda m: acked.append(m.sequence), qos.RELIABLE)
    pub = node.create_publisher(Transition, '/serl/transitions', qos.TRANSITIONS)
    types = rclpy_types()
    episode = make_episode(np.random.default_rng(args.seed), 'xproc', steps=args.count,
                           images=True)
    deadline = time.monotonic() + args.timeout
    while pub.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            print('no subscriber matched', file=sys.stderr)
            return 2
        rclpy.spin_once(node, timeout_sec=0.05)
    for tr in episode:
        pub.publish(dict_to_transition(tr, types))
    while not acked or max(acked) < args.count:
        if time.monotonic() > deadline:
            print(f'no acknowledgement of {args.count} (got {acked})', file=sys.stderr)
            return 3
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
