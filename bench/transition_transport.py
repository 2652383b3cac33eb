"""
Transition transport over DDS between two processes, vs the 10 Hz the robot produces.

A child process publishes ``--count`` serl_msgs/Transition messages on /serl/transitions
(reliable, keep last 1000, as the actor does) as fast as it can, once this process's
subscription matched; this process receives them (raw CDR, as the learner does) and reports
the delivered rate from the first to the last message, for ``state`` (pick-cube keys, 0.5 KiB)
and ``vision`` (plus two 128x128x3 images in both observations, 193 KiB) transitions.
Ratio: ``vision_vs_10hz`` = vision rate / 10 per second. Lost messages are counted (reliable
QoS: expected 0).

Last line: ``state_per_s=... vision_per_s=... vision_mb_per_s=... vision_vs_10hz=... lost=...``.

Run: ``python bench/transition_transport.py [--count 200]`` (sets ROS_DOMAIN_ID 91 and
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).
"""

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault('ROS_DOMAIN_ID', '91')
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'

CHILD = r"""
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.serialization import serialize_message
from serl_common import qos
from serl_agent.data.transition_codec import dict_to_transition, rclpy_types
from serl_msgs.msg import Transition
import sys, time
count, vision = int(sys.argv[1]), sys.argv[2] == 'vision'
rng = np.random.default_rng(0)
def obs():
    o = {'tcp_pose': rng.normal(size=7).astype(np.float32),
         'tcp_vel': rng.normal(size=6).astype(np.float32),
         'gripper_width': np.zeros(1, np.float32)}
    if vision:
        o['front'] = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
        o['wrist'] = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    else:
        o['object_pos'] = np.zeros(3, np.float32)
    return o
types = rclpy_types()
msgs = [serialize_message(dict_to_transition(
    {'observation': obs(), 'next_observation': obs(), 'action': np.zeros(4, np.float32),
     'reward': 0.0, 'terminated': False, 'truncated': False, 'actor_id': 'bench',
     'sequence': i + 1}, types)) for i in range(count)]
rclpy.init()
node = Node('bench_publisher')
pub = node.create_publisher(Transition, '/serl/transitions', qos.TRANSITIONS)
deadline = time.monotonic() + 30
while pub.get_subscription_count() == 0:
    if time.monotonic() > deadline:
        sys.exit(2)
    rclpy.spin_once(node, timeout_sec=0.05)
for m in msgs:
    pub.publish(m)
sys.stdin.readline()  # the parent says when it has everything (or gave up)
"""


def run(kind, count):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from serl_common import qos
    from serl_msgs.msg import Transition

    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node(f'bench_subscriber_{kind}', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    times, sizes = [], []

    def on_msg(data):
        times.append(time.perf_counter())
        sizes.append(len(data))

    node.create_subscription(Transition, '/serl/transitions', on_msg, qos.TRANSITIONS,
                             raw=True)
    child = subprocess.Popen([sys.executable, '-c', CHILD, str(count), kind],
                             stdin=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    last_growth = time.monotonic()
    seen = 0
    while len(times) < count and time.monotonic() < deadline and child.poll() is None:
        executor.spin_once(timeout_sec=0.1)
        if len(times) != seen:
            seen, last_growth = len(times), time.monotonic()
        elif times and time.monotonic() - last_growth > 10:
            break  # nothing more for 10 s: the rest is lost
    child.stdin.write('done\n')
    child.stdin.flush()
    child.wait(30)
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown(context=context)
    n = len(times)
    span = times[-1] - times[0] if n > 1 else float('nan')
    per_s = (n - 1) / span if n > 1 else 0.0
    return per_s, per_s * (sum(sizes) / max(n, 1)) / 1e6, count - n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=200)
    args = parser.parse_args()
    state, _, lost_s = run('state', args.count)
    print(f'state: {state:.0f} transitions/s, lost {lost_s}')
    vision, mb, lost_v = run('vision', args.count)
    print(f'vision: {vision:.0f} transitions/s ({mb:.1f} MB/s), lost {lost_v}')
    print(f'state_per_s={state:.0f} vision_per_s={vision:.0f} vision_mb_per_s={mb:.1f} '
          f'vision_vs_10hz={vision / 10:.1f} lost={lost_s + lost_v}')


if __name__ == '__main__':
    main()
