"""A learner killed twice during a run is restarted by the launcher, and nothing is lost."""

import os
from pathlib import Path
import signal
import subprocess
import time

from serl_agent.data.bag_io import make_typestore, TRANSITION_TYPE
from serl_agent.data.transition_spool import read_spool
from serl_bringup.command_line import command_line
from serl_bringup.graph import NodeSpec
from serl_bringup.launcher import GraphProcesses

EPISODES, STEPS = 10, 40
RLPD_SMALL = 'rlpd: {batch_size: 16, utd_ratio: 1, hidden_dims: [16], num_critics: 2}\n'


def _spooled(run_dir: Path):
    if not (run_dir / 'transitions.spool').exists():
        return []
    store = make_typestore()
    return [store.deserialize_cdr(d, TRANSITION_TYPE).sequence
            for d in read_spool(run_dir / 'transitions.spool')]


def _wait(condition, timeout, what, procs):
    deadline = time.monotonic() + timeout
    while not condition():
        assert procs.poll() is None, f'the graph stopped while waiting for {what}'
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.05)


def test_killed_learner_is_restarted_and_the_run_loses_nothing(tmp_path):
    (tmp_path / 'rlpd.yaml').write_text(RLPD_SMALL)
    run = tmp_path / 'run'
    learner = NodeSpec('serl_agent', 'learner_node', 'learner_node',
                       parameters=(('run_dir', str(run)),
                                   ('rlpd_config', str(tmp_path / 'rlpd.yaml')),
                                   ('training_starts', 20), ('checkpoint_every', 1.0),
                                   ('torch_threads', 1)),
                       required=True, respawn=True, respawn_delay=0.5)
    lines = []
    procs = GraphProcesses([learner], grace_period=5.0, log=lines.append, respawn_limit=3,
                           respawn_window=120.0)
    actor_log = tmp_path / 'actor.log'
    actor_spec = NodeSpec('serl_agent', 'actor_node', 'actor_node', parameters=(
        ('env', 'Pendulum-v1'), ('actor_id', 'a'), ('max_episodes', EPISODES),
        ('max_episode_steps', STEPS), ('gym_rate', 30.0), ('resend_after', 1.0),
        ('drain_timeout', 60.0), ('spool_dir', str(tmp_path / 'actor_spool'))))
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    procs.start(env)
    with actor_log.open('w') as out:
        actor = subprocess.Popen(command_line(actor_spec), stdout=out, stderr=subprocess.STDOUT,
                                 env=env)
        try:
            for kill in (1, 2):   # kill the learner once it has spooled 60 more transitions
                have = len(_spooled(run))
                _wait(lambda: len(_spooled(run)) >= have + 60, 90.0,
                      f'60 transitions before kill {kill}', procs)
                os.kill(procs._procs['learner_node'].pid, signal.SIGKILL)
                _wait(lambda: procs.restarts.get('learner_node', 0) == kill, 30.0,
                      f'restart {kill}', procs)
            _wait(lambda: actor.poll() is not None, 180.0, 'the actor to finish', procs)
        finally:
            if actor.poll() is None:
                actor.kill()
            procs.stop()
    text = actor_log.read_text()
    assert actor.returncode == 0, text
    assert sum('restarting it in' in line for line in lines) == 2, lines
    # every transition exactly once in the learner's spool (re-sent ones were dropped)
    assert sorted(_spooled(run)) == list(range(1, EPISODES * STEPS + 1))
    assert '0 unacknowledged' in text, text
    assert text.count('learner unreachable') >= 1 and 'learner back' in text, text


def test_a_learner_that_keeps_dying_stops_the_graph(tmp_path):
    broken = NodeSpec('serl_agent', 'learner_node', 'learner_node',
                      parameters=(('rlpd_config', str(tmp_path / 'missing.yaml')),),
                      required=True, respawn=True, respawn_delay=0.2)
    lines = []
    procs = GraphProcesses([broken], grace_period=5.0, log=lines.append, respawn_limit=3,
                           respawn_window=120.0)
    procs.start(dict(os.environ))
    try:
        deadline = time.monotonic() + 120.0
        died = None
        while died is None and time.monotonic() < deadline:
            died = procs.poll()
            time.sleep(0.05)
    finally:
        procs.stop()
    assert died == 'learner_node', lines
    assert procs.restarts['learner_node'] == 2
    assert 'death 3 within 120 s, the limit: not restarted' in lines[-1], lines
