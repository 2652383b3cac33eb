"""Launch the FR3 under franka_ros2 with controller, reward, actor and learner.

    ros2 launch launch/real.launch.py --show-args

The graph itself lives in serl_bringup.graph, which `serl_launch real` reads too (for machines
without launch_ros), so both start the same nodes with the same parameters.
"""

from pathlib import Path

from serl_bringup.launch_description import graph_launch_description


def generate_launch_description():
    return graph_launch_description('real', Path(__file__).resolve().parent.parent / 'config')
