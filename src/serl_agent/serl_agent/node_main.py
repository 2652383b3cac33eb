"""The ``main()`` idiom of serl_agent's plain (non-lifecycle) nodes."""

from typing import Callable, Optional, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


def spin_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None) -> None:
    """
    Initialise rclpy, spin the node ``make_node()`` builds until Ctrl-C, then clean up.

    ``destroy_node()`` runs also when construction or spinning ended by Ctrl-C or an external
    shutdown, so a node's own cleanup (closing bags, syncing the spool) always happens.
    """
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
