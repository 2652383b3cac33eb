"""
The record_demos graph with teleop: its node specs, and a live sim recording over real DDS.

The live test starts ``serl_launch record_demos teleop:=keyboard`` with a pseudo-terminal as
its stdin (the terminal the operator would type into), holds ``w`` (forward) until the actor's
transitions show it, presses Enter (success), and reads the recorded MCAP bag back.
"""

import os
from pathlib import Path
import pty
import signal
import subprocess
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from serl_agent.data.demo_buffer import read_episodes
from serl_bringup.graph import default_config_dir, get_graph
from serl_msgs.msg import Transition


def _specs(**args):
    return {s.name: s for s in get_graph('record_demos').nodes(args, default_config_dir())}


def test_default_is_the_scripted_expert_in_sim():
    specs = _specs()
    assert 'teleop_node' not in specs and 'sim_node' in specs
    assert dict(specs['actor_node'].parameters)['policy'] == 'expert'


@pytest.mark.parametrize('teleop', ['keyboard', 'spacemouse'])
def test_teleop_adds_the_teleop_node_and_the_teleop_policy(teleop):
    specs = _specs(teleop=teleop)
    assert dict(specs['teleop_node'].parameters)['input'] == teleop
    assert specs['teleop_node'].required
    assert Path(specs['teleop_node'].parameter_files[0]).name == 'teleop.yaml'
    actor = dict(specs['actor_node'].parameters)
    assert actor['policy'] == 'teleop' and actor['reward_source'] == 'ground_truth'


def test_external_teleop_starts_no_teleop_node():
    specs = _specs(teleop='external')
    assert 'teleop_node' not in specs
    assert dict(specs['actor_node'].parameters)['policy'] == 'teleop'


def test_real_arm_needs_a_person_and_has_no_simulator():
    with pytest.raises(ValueError, match='robot:=real needs a person'):
        _specs(robot='real')
    specs = _specs(robot='real', teleop='spacemouse')
    assert 'sim_node' not in specs and 'teleop_node' in specs
    actor = dict(specs['actor_node'].parameters)
    assert actor['robot'] == 'real' and actor['reward_source'] == 'none'
    assert actor['object_pose'] is False
    assert Path(specs['cartesian_impedance_controller'].parameter_files[-1]).name == 'real.yaml'


class _Transitions:
    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = Node('teleop_graph_test', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received = []
        self.node.create_subscription(
            Transition, '/serl/transitions', self.received.append,
            QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))

    def wait_for(self, condition, what, timeout, action=None, proc=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f'the graph stopped (rc {proc.returncode}) before {what}')
            if action is not None:
                action()
            self.executor.spin_once(timeout_sec=0.05)
        raise AssertionError(f'timed out after {timeout} s waiting for {what}')

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture
def transitions():
    t = _Transitions()
    yield t
    t.close()


def test_keyboard_demo_in_sim_ends_on_enter_and_is_recorded(transitions, tmp_path):
    master, slave = pty.openpty()
    output = tmp_path / 'demos'
    log = open(tmp_path / 'launch.log', 'w')
    proc = subprocess.Popen(
        ['serl_launch', 'record_demos', 'teleop:=keyboard', 'episodes:=1',
         f'output:={output}', '--grace-period', '5'],
        stdin=slave, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        env=dict(os.environ, PYTHONUNBUFFERED='1'), start_new_session=True)
    try:
        transitions.wait_for(lambda: transitions.received, 'the first step', 120.0, proc=proc)

        def hold_w():  # a held key: the terminal repeats it
            os.write(master, b'w')

        transitions.wait_for(lambda: any(t.action[0] > 0.1 for t in transitions.received),
                             'a forward action from the w key', 30.0, action=hold_w,
                             proc=proc)
        os.write(master, b'\r')
        transitions.wait_for(lambda: any(t.terminated for t in transitions.received),
                             'the episode to end on Enter', 30.0, proc=proc)
        proc.wait(timeout=90)  # actor done (1 episode) -> the graph stops
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=30)
        log.close()
        os.close(master)
        os.close(slave)
    text = (tmp_path / 'launch.log').read_text()
    # serl_launch stops the graph when the actor (required) is done; no node may have failed
    assert 'node actor_node exited' in text and 'exit code' not in text, text[-3000:]
    # complete episode bags only: an episode the actor aborted on a stale robot state (a busy
    # machine at start-up) stays open in the recorder and is closed as *_incomplete at exit
    complete = [p for p in output.iterdir() if '_incomplete' not in p.name]
    episodes = [e for e in read_episodes(complete) if e.transitions[-1]['terminated']]
    assert len(episodes) == 1, text[-3000:]
    steps = episodes[0].transitions
    last = steps[-1]
    assert last['terminated'] and last['success'] and last['reward'] == 1.0
    assert not any(t['terminated'] for t in steps[:-1])
    assert all(t['intervention'] for t in steps)
    assert any(t['action'][0] > 0.1 for t in steps)
    assert all(t['action'][3] == 1.0 for t in steps)  # gripper stayed open
