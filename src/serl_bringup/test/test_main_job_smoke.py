"""
The main job's smoke run over the full graph: real processes, real DDS, MuJoCo, torch, bags.

``serl_train --smoke`` records 2 scripted demos through the ``record_demos`` graph, trains
the reward classifier on their images (a few steps), then runs the ``sim`` graph (sim node,
controller, reward node with that classifier, actor, learner with tiny networks) until every
liveness check holds: every node publishes, the learner receives transitions and publishes
trained weights, the actor acts with them, the reward node scores frames, an evaluation round
completes. The job waits on those conditions (no fixed sleeps) and writes graph_check.json.
"""

import json
import os
import signal
import subprocess
import sys

import pytest
from serl_agent.data.demo_buffer import read_episodes
from serl_agent.runtime.video import count_frames


@pytest.fixture
def job(tmp_path):
    procs = []

    def start(*args):
        env = dict(os.environ)
        env.setdefault('MUJOCO_GL', 'egl')
        proc = subprocess.Popen(['serl_train', *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                env=env, cwd=tmp_path)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def finish(proc, args) -> str:
    """Wait (8 min at most) for a started ``serl_train``; return its output (tail echoed)."""
    try:
        out, _ = proc.communicate(timeout=480)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f'serl_train {args} did not finish:\n{out[-4000:]}')
    sys.stdout.write(out[-3000:])
    return out


def run_smoke(job, run, *args):
    """Run ``serl_train --smoke`` into ``run``; assert every liveness check; return output."""
    proc = job(*args, '--smoke', '--run-dir', str(run), '--timeout', '240')
    out = finish(proc, args + ('--smoke',))
    report = json.loads((run / 'graph_check.json').read_text())
    failed = [name for name, ok in report['checks'].items() if not ok]
    assert not failed, f'failed checks {failed}; topics {report["topics"]}\n{out[-3000:]}'
    assert proc.returncode == 0, out[-3000:]
    return out


def test_smoke_run_proves_the_graph_is_alive(tmp_path, job):
    run = tmp_path / 'run'
    run_smoke(job, run)
    bags = [d for d in (run / 'demos').iterdir() if (d / 'metadata.yaml').exists()]
    assert len(bags) == 2
    # the demos hold success (record_demos hold_success:=20): terminal success transitions
    # after the first, the last also truncated, all in the episode's one bag
    successful = [episode for episode in read_episodes(bags) if episode.success]
    assert len(successful) == 2
    for episode in successful:
        held = [t for t in episode.transitions if t['success']]
        assert len(held) > 1 and all(t['terminated'] and t['reward'] == 1.0 for t in held), \
            [(t['step'], t['success'], t['terminated']) for t in episode.transitions]
        assert episode.transitions[-1]['truncated']
    assert (run / 'reward_classifier.pt').stat().st_size > 0
    assert list((run / 'tensorboard').glob('events.out.tfevents.*'))
    assert (run / 'learning_curve.png').read_bytes()[:4] == b'\x89PNG'
    assert (run / 'transitions.spool').stat().st_size > 0
    # what a user does next: evaluate and film the run's policy through the same graph
    video = tmp_path / 'eval.mp4'
    evaluation = subprocess.run(['serl_eval', '--run-dir', str(run), '--episodes', '2',
                                 '--video', str(video), '--timeout', '180'],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert evaluation.returncode == 0, evaluation.stdout + evaluation.stderr
    (result_path,) = run.glob('eval_*.json')
    result = json.loads(result_path.read_text())
    assert result['episodes'] == 2 and result['path'] == 'graph'
    assert [e['steps'] for e in result['per_episode']] == [30, 30]   # the smoke's episodes
    assert 0.0 <= result['success_rate'] <= 1.0
    # 10 frames a second of both cameras, plus each episode's outcome held for a second
    assert count_frames(video) == result['video_frames'] >= 2 * 10


def test_vision_smoke_run_with_vice_trains_from_cameras_and_proprioception_only(tmp_path, job):
    """
    ``serl_train --task PandaPickCubeVision-v0 --reward vice --smoke``: the pixel graph is alive.

    And its reward comes from success examples only: no failure episodes are recorded, the
    reward node updates its classifier (VICE) and the label server answers a query (RAQ).
    """
    run = tmp_path / 'run'
    out = run_smoke(job, run, '--task', 'PandaPickCubeVision-v0', '--reward', 'vice')
    assert not (run / 'negatives').exists()
    report = json.loads((run / 'graph_check.json').read_text())
    assert report['reward']['classifier_updates'] > 0 and report['reward']['answered'] > 0
    # the updated classifier and the answered queries are kept for a resumed run
    assert (run / 'reward_vice.pt').stat().st_size > 0
    assert (run / 'reward_labels.npz').stat().st_size > 0
    assert 'image encoder' in out and (run / 'image_encoder.pt').stat().st_size > 0
    # the weights the actor ran: features of both cameras and proprioception, no object pose
    spec = json.loads((run / 'policy_config.json').read_text())['observation']
    assert sorted(spec['state']) == ['front_features', 'gripper_width', 'tcp_pose', 'tcp_vel',
                                     'wrist_features'] and not spec['images']
    # a saved vision policy evaluates in the Gymnasium env through the same encoder
    evaluation = subprocess.run(['serl_eval', '--run-dir', str(run), '--episodes', '1',
                                 '--no-ros'], capture_output=True, text=True, timeout=300,
                                cwd=tmp_path)
    assert evaluation.returncode == 0, evaluation.stdout + evaluation.stderr


def test_forward_backward_job_records_and_trains_both_directions(tmp_path, job):
    """``serl_train --task PandaBinRelocation-v0``: demos and a learner per direction."""
    run = tmp_path / 'run'
    proc = job('--task', 'PandaBinRelocation-v0', '--smoke', '--reward', 'ground_truth',
               '--demos', '1', '--max-env-steps', '60', '--run-dir', str(run),
               '--timeout', '240')
    out = finish(proc, ('--task', 'PandaBinRelocation-v0'))
    assert proc.returncode == 0, out[-3000:]
    result = json.loads((run / 'result.json').read_text())
    assert result['outcome'] == 'step budget spent' and result['resets'] >= 1
    for direction in ('forward', 'backward'):
        bags = [d for d in (run / 'demos' / direction).iterdir()
                if (d / 'metadata.yaml').exists()]
        assert len(bags) >= 1
        # and as many from anywhere in the tray (the recipe's extra_demo_starts)
        assert any((d / 'metadata.yaml').exists()
                   for d in (run / 'demos' / direction / 'tray').iterdir())
        assert (run / direction / 'policy.pt').stat().st_size > 0
        assert (run / direction / 'transitions.spool').exists()
        assert result['directions'][direction]['env_steps'] > 0
    assert not (run / 'negatives').exists()
    # serl_eval takes the run direction by direction (the Gymnasium env, each reset into it)
    evaluation = subprocess.run(['serl_eval', '--run-dir', str(run), '--episodes', '1',
                                 '--no-ros'], capture_output=True, text=True, timeout=300,
                                cwd=tmp_path)
    assert evaluation.returncode == 0, evaluation.stdout + evaluation.stderr
    assert 'forward: 1 episodes' in evaluation.stdout
    (result_path,) = run.glob('eval_*.json')
    assert set(json.loads(result_path.read_text())['directions']) == {'forward', 'backward'}
