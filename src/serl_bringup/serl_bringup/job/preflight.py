"""Checks ``serl_train`` makes before any step: the run directory's task, another graph."""

import json
from pathlib import Path
import time
from typing import List, Optional


def other_graph_nodes(wait: float = 1.5) -> List[str]:
    """
    Return the nodes of a robot already streaming ``/joint_states`` on this ROS domain.

    Another training graph (its sim) or a robot would exchange robot states, commands, resets
    and transitions with the graph this job starts. Alive means a message within ``wait``
    seconds (a dead process can stay in the discovery data for a while; it sends nothing).
    Runs in a context of its own, shut down before returning.
    """
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from serl_common import qos

    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        node = Node('serl_train_probe', context=context)
        executor.add_node(node)
        received = []
        node.create_subscription(JointState, '/joint_states', received.append, qos.SENSOR)
        deadline = time.monotonic() + wait
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        names: List[str] = []
        name_deadline = time.monotonic() + 2.0
        while received:   # a name may arrive after the first message (discovery data)
            names = sorted({info.node_name for info in
                            node.get_publishers_info_by_topic('/joint_states')})
            if '_NODE_NAME_UNKNOWN_' not in names or time.monotonic() > name_deadline:
                break
            executor.spin_once(timeout_sec=0.05)
        node.destroy_node()
        return names
    finally:
        executor.shutdown()
        rclpy.try_shutdown(context=context)


def task_of_run(run_dir: Path) -> Optional[str]:
    """Return the task an existing run directory was started with (its job_args.json)."""
    try:
        return json.loads((run_dir / 'job_args.json').read_text()).get('task')
    except (OSError, ValueError, AttributeError):
        return None
