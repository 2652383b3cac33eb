"""Launch demonstrations (scripted expert in sim, or a person via teleop), recorded to MCAP bags.

    ros2 launch launch/record_demos.launch.py --show-args
    ros2 launch launch/record_demos.launch.py teleop:=keyboard            # sim, keys
    ros2 launch launch/record_demos.launch.py robot:=real teleop:=spacemouse

(teleop:=keyboard reads this terminal; see docs/teleop.md.)

The graph itself lives in serl_bringup.graph, which `serl_launch record_demos` reads too (for machines
without launch_ros), so both start the same nodes with the same parameters.
"""

from pathlib import Path

from serl_bringup.launch_description import graph_launch_description


def generate_launch_description():
    return graph_launch_description('record_demos', Path(__file__).resolve().parent.parent / 'config')
