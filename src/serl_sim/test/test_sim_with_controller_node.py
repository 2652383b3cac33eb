"""
The sim node driven by serl_controller's node, both wirings, as processes over real DDS.

- ``impedance``/``forward`` (the sim graphs, config/sim.yaml + config/controller_sim.yaml as
  shipped): the controller node limits the target at 100 Hz and forwards it to
  ``/cartesian_impedance_example_controller/equilibrium_pose``; the sim runs the law.
- ``effort``/``torque``: the controller node closes the impedance law over DDS at 1 kHz on
  ``/joint_states`` (500 Hz) and ``/effort_controller/commands``.
"""

import os
import signal
import subprocess
import time

from geometry_msgs.msg import PoseStamped
import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from serl_common.qos import RELIABLE, SENSOR
from std_msgs.msg import Float64MultiArray

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
CONFIG = os.path.join(ROOT, 'config')
TIMEOUT = 60.0

WIRINGS = {
    'impedance_forward': ([], [], ('/cartesian_impedance_example_controller/equilibrium_pose',
                                   PoseStamped)),
    'effort_torque': (['-p', 'control_mode:=effort', '-p', 'state_rate:=500.0'],
                      ['-p', 'mode:=torque', '-p', 'update_rate:=1000.0'],
                      ('/effort_controller/commands', Float64MultiArray)),
}


def _script(package, name):
    return os.path.join(ROOT, 'install', package, 'lib', package, name)


@pytest.mark.parametrize('wiring', sorted(WIRINGS))
def test_equilibrium_pose_through_the_controller_node_moves_the_sim_arm(wiring):
    sim_args, controller_args, (command_topic, command_type) = WIRINGS[wiring]
    procs = [
        subprocess.Popen([_script('serl_sim', 'sim_node'), '--ros-args', '--params-file',
                          os.path.join(CONFIG, 'sim.yaml'), '-p', 'camera_rate:=0.0']
                         + sim_args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True),
        subprocess.Popen([_script('serl_controller', 'cartesian_impedance_controller'),
                          '--ros-args', '--params-file', os.path.join(CONFIG, 'controller.yaml'),
                          '--params-file', os.path.join(CONFIG, 'controller_sim.yaml')]
                         + controller_args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True),
    ]
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('wiring_probe', context=context)
    latest, commands = {}, []
    node.create_subscription(PoseStamped, '/franka_robot_state_broadcaster/current_pose',
                             lambda m: latest.__setitem__('pose', m), SENSOR)
    node.create_subscription(command_type, command_topic, commands.append, RELIABLE)
    target_pub = node.create_publisher(
        PoseStamped, '/cartesian_impedance_controller/equilibrium_pose', RELIABLE)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def tcp():
        p = latest['pose'].pose.position
        return np.array([p.x, p.y, p.z])

    try:
        deadline = time.monotonic() + TIMEOUT
        while 'pose' not in latest or target_pub.get_subscription_count() == 0:
            assert time.monotonic() < deadline, 'no current_pose or no controller subscriber'
            assert all(p.poll() is None for p in procs), 'a node exited at start'
            executor.spin_once(timeout_sec=0.1)
        target = tcp() + [0.0, 0.05, -0.03]
        msg = PoseStamped()
        msg.header.frame_id = 'fr3_link0'
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = target.tolist()
        msg.pose.orientation.x = 1.0  # pointing down
        next_send = 0.0
        while np.linalg.norm(tcp() - target) > 0.005:  # as the actor does: a target at 10 Hz
            assert time.monotonic() < deadline, (
                f'{wiring}: TCP {tcp()} did not reach {target}; {len(commands)} messages on '
                f'{command_topic}')
            if time.monotonic() >= next_send:
                target_pub.publish(msg)
                next_send = time.monotonic() + 0.1
            executor.spin_once(timeout_sec=0.01)
        assert commands, f'nothing on {command_topic}'
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        outputs = []
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            outputs.append(proc.communicate(timeout=20)[0])
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output
