"""
serl_launch runs a real graph: every node comes up, a dead node is reported, Ctrl-C stops all.

The robot part of the sim graph (``agent:=false``: sim_node and the controller) is started as
real processes; the test watches the ROS graph over DDS from its own node.
"""

import os
from pathlib import Path
import signal
import subprocess
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

GRAPH_ARGS = ['sim', 'agent:=false', 'rviz:=false']
EXPECTED = {'sim_node', 'cartesian_impedance_controller'}


@pytest.fixture
def observer():
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('launcher_test_observer', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    yield node, executor
    node.destroy_node()
    rclpy.shutdown(context=context)


def _spin_until(executor, condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        executor.spin_once(timeout_sec=0.1)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def _start_launcher():
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    return subprocess.Popen(['serl_launch', *GRAPH_ARGS, '--grace-period', '5'], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _node_pids(launcher_output):
    pids = {}
    for line in launcher_output.splitlines():
        if '[serl_launch] started' in line:
            name, pid = line.split('started ')[1].split(' (pid ')
            pids[name] = int(pid.rstrip(')'))
    return pids


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state letter says it has exited.
    with open(f'/proc/{pid}/stat') as stat:
        return stat.read().split(') ')[1][0] != 'Z'


def test_dry_run_prints_one_command_line_per_node():
    out = subprocess.run(['serl_launch', *GRAPH_ARGS, '--dry-run'], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    lines = out.strip().splitlines()
    assert len(lines) == len(EXPECTED)
    for name in EXPECTED:
        assert sum(f'__node:={name}' in line for line in lines) == 1


def test_a_missing_reward_classifier_is_named_before_anything_starts(tmp_path):
    missing = tmp_path / 'reward_classifier.pt'
    result = subprocess.run(['serl_launch', 'sim', f'reward_model:={missing}'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ''   # no node was started
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f'needs the reward classifier {missing}, which does not exist' in result.stderr
    assert 'reward:=ground_truth' in result.stderr
    sim = subprocess.run(['make', '-n', '-C', str(Path(__file__).resolve().parents[3]), 'sim'],
                         capture_output=True, text=True, timeout=30).stdout
    assert 'serl_launch sim reward:=ground_truth' in sim   # make sim starts on a fresh clone


def test_bad_argument_is_a_usage_error():
    result = subprocess.run(['serl_launch', 'sim', 'task:=Pong'], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert 'task:=Pong' in result.stderr


def test_sigint_stops_every_node(observer):
    node, executor = observer
    launcher = _start_launcher()
    try:
        _spin_until(executor, lambda: EXPECTED <= set(node.get_node_names()), 60.0,
                    f'nodes {EXPECTED} on the ROS graph')
        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert launcher.returncode == 0, output
    pids = _node_pids(output)
    assert set(pids) == EXPECTED, output
    assert not [name for name, pid in pids.items() if _alive(pid)], output
    assert 'stopping the graph' in output


def test_dead_required_node_is_reported_and_stops_the_graph(observer):
    node, executor = observer
    launcher = _start_launcher()
    output = ''
    try:
        _spin_until(executor, lambda: EXPECTED <= set(node.get_node_names()), 60.0,
                    f'nodes {EXPECTED} on the ROS graph')
        # The launcher printed the pids before the nodes could join the graph; read them from
        # /proc instead of the pipe (which is only read at the end).
        children = subprocess.run(['pgrep', '-P', str(launcher.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert len(children) == len(EXPECTED)
        sim_pid = next(int(pid) for pid in children
                       if 'sim_node' in open(f'/proc/{pid}/cmdline').read())
        os.kill(sim_pid, signal.SIGKILL)
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert launcher.returncode == 1, output
    assert f'node sim_node died (exit code {-signal.SIGKILL})' in output
    assert 'required node sim_node died: stopping the graph' in output
    assert not [name for name, pid in _node_pids(output).items() if _alive(pid)], output
