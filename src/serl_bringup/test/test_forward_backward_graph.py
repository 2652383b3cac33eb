"""
Forward-backward reset-free training through the graph: real sim, controller, actor, learners.

``serl_launch sim task:=PandaBinRelocation-v0`` runs one actor for both directions and a
learner per direction (namespaces ``forward`` and ``backward``, topics ``/serl/<direction>/``).
The actor runs each direction's scripted expert (``policy: expert``), so the cube goes
A -> B -> A without a scene reset: only the first episode starts from a reset.
"""

import os
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from serl_bringup.graph import default_config_dir, get_graph
from serl_bringup.launcher import GraphProcesses
from serl_common import qos
from serl_msgs.msg import EpisodeSummary, LearnerStatus
import yaml

RLPD_SMALL = 'rlpd: {batch_size: 16, utd_ratio: 1, hidden_dims: [16], num_critics: 2}\n'


def test_two_directions_take_turns_without_resets_each_with_its_own_learner(tmp_path):
    (tmp_path / 'rlpd.yaml').write_text(RLPD_SMALL)
    params = tmp_path / 'params.yaml'
    params.write_text(yaml.safe_dump({
        'actor_node': {'ros__parameters': {
            'policy': 'expert', 'max_episode_steps': 300, 'seed': 3,
            'state_timeout': 1.0, 'actor_id': 'fb'}},
        '/**/learner_node': {'ros__parameters': {
            'rlpd_config': str(tmp_path / 'rlpd.yaml'), 'training_starts': 100_000,
            'torch_threads': 1, 'status_period': 0.5}},
    }))
    run = tmp_path / 'run'
    specs = get_graph('sim').nodes({'task': 'PandaBinRelocation-v0', 'reward': 'ground_truth',
                                    'run_dir': str(run), 'params_file': str(params)},
                                   default_config_dir())
    assert {s.label for s in specs} >= {'actor_node', 'forward/learner_node',
                                        'backward/learner_node'}
    lines = []
    procs = GraphProcesses(specs, grace_period=10.0, log=lines.append)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('fb_test', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    summaries, status = [], {}
    node.create_subscription(EpisodeSummary, '/serl/episode_summary', summaries.append,
                             qos.RELIABLE)
    for direction in ('forward', 'backward'):
        node.create_subscription(LearnerStatus, f'/serl/{direction}/learner_status',
                                 lambda m, d=direction: status.__setitem__(d, m),
                                 qos.RELIABLE)
    procs.start(dict(os.environ, PYTHONUNBUFFERED='1'))
    try:
        deadline = time.monotonic() + 360.0   # a loaded machine slows the sim (paced)

        def succeeded(direction):
            return any(s.direction == direction and s.success for s in summaries)
        while not (succeeded('forward') and succeeded('backward') and len(status) == 2
                   and all(m.env_steps > 0 for m in status.values())):
            assert procs.poll() is None, 'the graph stopped:\n' + '\n'.join(lines)
            assert time.monotonic() < deadline, (
                f'timed out: episodes {[(s.direction, s.success) for s in summaries]}, '
                f'learners {[(d, m.env_steps) for d, m in status.items()]}')
            executor.spin_once(timeout_sec=0.1)
    finally:
        procs.stop()
        node.destroy_node()
        rclpy.shutdown(context=context)
    # the directions alternate, and only the very first episode started from a scene reset
    directions = [s.direction for s in summaries]
    assert directions[:2] == ['forward', 'backward'], directions
    assert all(s.resets == 1 and s.out_of_reach_resets == 0 for s in summaries)
    # each learner got its own direction's transitions only, under its own actor id
    forward, backward = status['forward'], status['backward']
    steps = {d: sum(s.steps for s in summaries if s.direction == d) for d in status}
    assert 0 < forward.env_steps <= steps['forward']
    assert 0 < backward.env_steps <= steps['backward']
    assert (run / 'forward').is_dir() and (run / 'backward').is_dir()
