"""
A tiny node run through ``serl_common.node_main.run_node`` (test_node_main.py starts it).

``python probe_node.py plain|lifecycle|fatal``: publishes ``std_msgs/String`` 'alive' on
``/probe/alive`` every 20 ms until SIGINT; prints 'destroyed' when its ``destroy_node`` runs.
``lifecycle`` spins a lifecycle node (configured and activated by ``on_start``) on a
``MultiThreadedExecutor`` and survives invalid transitions; ``fatal`` fails in construction.
"""

import sys

from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from serl_common import qos
from serl_common.node_main import run_node
from std_msgs.msg import String


class _Alive:
    """Publishes 'alive' on /probe/alive every 20 ms; says 'destroyed' on destroy_node."""

    def start_publishing(self):
        """Create the publisher and its timer."""
        self.alive_pub = self.create_publisher(String, '/probe/alive', qos.RELIABLE)
        self.create_timer(0.02, lambda: self.alive_pub.publish(String(data='alive')))

    def destroy_node(self):
        """Say so on stdout, then destroy."""
        print('destroyed', flush=True)
        super().destroy_node()


class PlainProbe(_Alive, Node):
    """A plain node that publishes at once."""

    def __init__(self):
        """Create the node and start publishing."""
        super().__init__('probe')
        self.start_publishing()


class LifecycleProbe(_Alive, LifecycleNode):
    """A lifecycle node that publishes once configured."""

    def __init__(self):
        """Create the node (unconfigured)."""
        super().__init__('probe')

    def on_configure(self, state):
        """Start publishing."""
        self.start_publishing()
        return super().on_configure(state)


class FailingProbe(Node):
    """A node whose construction fails."""

    def __init__(self):
        """Raise ValueError."""
        super().__init__('probe')
        raise ValueError('probe cannot start')


def main():
    """Run the probe in the mode named by the first argument."""
    mode = sys.argv[1]
    if mode == 'plain':
        return run_node(PlainProbe, sys.argv)
    if mode == 'lifecycle':
        def autostart(node):
            node.trigger_configure()
            node.trigger_activate()
        return run_node(LifecycleProbe, sys.argv,
                        make_executor=lambda: MultiThreadedExecutor(num_threads=2),
                        on_start=autostart, keep_spinning_on=(RCLError,))
    return run_node(FailingProbe, sys.argv, fatal_errors=(ValueError,))


if __name__ == '__main__':
    sys.exit(main())
