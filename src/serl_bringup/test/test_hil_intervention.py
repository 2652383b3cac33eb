"""
A person takes over while the policy trains (HIL-SERL) over real DDS, from a virtual gamepad.

The gamepad is a FIFO the teleop node reads as its joystick device (``js_event`` records);
teleop_node -> actor_node (PandaPickCube-v0 in-process, ``teleop_intervention``) ->
learner_node. The learner's status says how many transitions went into its demo buffer too;
the episode summaries count the intervened steps; the learner's spool marks them.
"""

import os
from pathlib import Path
import subprocess
import time

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from serl_agent.data.bag_io import make_typestore, TRANSITION_TYPE
from serl_agent.data.transition_spool import read_spool
from serl_bringup.command_line import command_line
from serl_bringup.graph import NodeSpec
from serl_common import qos
from serl_msgs.msg import EpisodeSummary
from serl_teleop.gamepad import AXIS_LEFT_Y, js_event, JS_EVENT_AXIS

RLPD_SMALL = 'rlpd: {batch_size: 16, utd_ratio: 1, hidden_dims: [16], num_critics: 2}\n'


def _start(spec, log_path: Path):
    out = log_path.open('w')
    return subprocess.Popen(command_line(spec), stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            env=dict(os.environ, PYTHONUNBUFFERED='1')), out


def _stop(proc, out):
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out.close()
    return proc.returncode


def test_gamepad_intervention_reaches_the_online_and_the_demo_buffer(tmp_path):
    (tmp_path / 'rlpd.yaml').write_text(RLPD_SMALL)
    fifo = tmp_path / 'js0'
    os.mkfifo(fifo)
    run = tmp_path / 'run'
    specs = [
        NodeSpec('serl_agent', 'learner_node', 'learner_node', parameters=(
            ('run_dir', str(run)), ('rlpd_config', str(tmp_path / 'rlpd.yaml')),
            ('training_starts', 10_000), ('torch_threads', 1), ('status_period', 0.3))),
        NodeSpec('serl_teleop', 'teleop_node', 'teleop_node', parameters=(
            ('input', 'gamepad'), ('device', str(fifo)))),
        NodeSpec('serl_agent', 'actor_node', 'actor_node', parameters=(
            ('env', 'PandaPickCube-v0'), ('actor_id', 'hil'), ('policy', 'rlpd'),
            ('before_weights', 'zero'), ('teleop_intervention', True),
            ('max_episode_steps', 30), ('gym_rate', 20.0), ('resend_after', 1.0))),
    ]
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('hil_test', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    summaries, learner = [], {}

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name == 'learner_node: learner':
                learner.update({kv.key: kv.value for kv in status.values})

    node.create_subscription(EpisodeSummary, '/serl/episode_summary', summaries.append,
                             qos.RELIABLE)
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, qos.RELIABLE)
    procs = [_start(s, tmp_path / f'{s.name}.log') for s in specs]
    writer = None
    try:
        def spin_until(condition, what, timeout=90.0, action=None):
            deadline = time.monotonic() + timeout
            while not condition():
                for (p, _), s in zip(procs, specs):
                    assert p.poll() is None, (s.name, (tmp_path / f'{s.name}.log').read_text())
                assert time.monotonic() < deadline, f'timed out waiting for {what}'
                if action is not None:
                    action()
                executor.spin_once(timeout_sec=0.05)

        spin_until(lambda: summaries, 'a first episode (the policy alone)')
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        # the operator pushes the left stick for a while, then lets go
        os.write(writer, js_event(JS_EVENT_AXIS, AXIS_LEFT_Y, -32767))
        spin_until(lambda: int(learner.get('interventions', 0)) >= 20,
                   'intervened transitions at the learner')
        os.write(writer, js_event(JS_EVENT_AXIS, AXIS_LEFT_Y, 0))
        spin_until(lambda: any(s.intervention_steps for s in summaries),
                   'an episode summary counting them')
        assert int(learner['demo_buffer']) == int(learner['interventions'])
        assert int(learner['env_steps']) > int(learner['interventions'])  # policy steps too
    finally:
        if writer is not None:
            os.close(writer)
        codes = [_stop(p, out) for p, out in reversed(procs)]
        node.destroy_node()
        rclpy.shutdown(context=context)
    assert codes == [0, 0, 0], [(tmp_path / f'{s.name}.log').read_text() for s in specs]
    store = make_typestore()
    marked = [store.deserialize_cdr(d, TRANSITION_TYPE).intervention
              for d in read_spool(run / 'transitions.spool')]
    assert any(marked) and not all(marked)
