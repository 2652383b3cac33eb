"""
RLPD learns Pendulum-v1 through the no-ROS training command; runs resume.

Small settings for CI (about a minute on one free core): E = 2 critics (Z = 2), width 128 x 2,
batch 128, UTD G = 2, 500 random steps, evaluation (5 deterministic episodes) every 1000 steps.
With seed 0 the evaluation passes -250 at 3000 steps (-144); the test allows 10000.
"""

import json

import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.cli.train_gym import main, train
from serl_agent.data import checkpoint
import torch


pytestmark = pytest.mark.usefixtures('one_torch_thread')


SMALL = RLPDConfig(num_critics=2, critic_subset_size=2, hidden_dims=(128, 128),
                   batch_size=128, utd_ratio=2, random_steps=500)


def test_pendulum_reaches_minus_250_within_10k_steps(tmp_path):
    torch.manual_seed(0)
    result = train('Pendulum-v1', 10_000, tmp_path / 'run', SMALL, seed=0, eval_every=1000,
                   eval_episodes=5, checkpoint_every=0, target_return=-250.0, progress=False)
    assert result['last_eval'] >= -250.0, result['evals']
    assert result['env_steps'] <= 10_000
    assert checkpoint.latest_checkpoint(tmp_path / 'run') is not None


def test_command_resumes_an_existing_run_dir(tmp_path, capsys):
    run = tmp_path / 'run'
    args = ['--env', 'Pendulum-v1', '--run-dir', str(run), '--no-progress', '--threads', '1',
            '--eval-every', '0', '--checkpoint-every', '100', '--learning-starts', '150',
            '--set', 'num_critics=2', 'hidden_dims=[16]', 'batch_size=8', 'utd_ratio=1']
    assert main(args + ['--steps', '200']) == 0
    manifest = json.loads((run / 'checkpoints' / 'latest.json').read_text())
    assert manifest['counters']['env_steps'] == 200 and manifest['critic_updates'] == 51
    assert main(args + ['--steps', '260']) == 0  # same dir again: resumed, not an error
    assert 'env_steps=260' in capsys.readouterr().out
    manifest = json.loads((run / 'checkpoints' / 'latest.json').read_text())
    assert manifest['counters']['env_steps'] == 260 and manifest['critic_updates'] == 111
    assert (run / 'tb').is_dir()


def test_sigterm_saves_a_checkpoint_and_the_run_resumes(tmp_path):
    import os
    import subprocess
    import sys
    import time

    run = tmp_path / 'run'
    cmd = [sys.executable, '-m', 'serl_agent.cli.train_gym', '--env', 'Pendulum-v1',
           '--steps', '100000', '--run-dir', str(run), '--no-progress', '--threads', '1',
           '--eval-every', '0', '--checkpoint-every', '50', '--learning-starts', '1000000']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    manifest_path = run / 'checkpoints' / 'latest.json'
    deadline = time.monotonic() + 60.0
    while not manifest_path.exists():  # the loop has made its first checkpoint (step 50)
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    signalled_at = time.time()
    proc.send_signal(15)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    manifest = json.loads(manifest_path.read_text())
    assert manifest['counters']['env_steps'] >= 50
    # The checkpoint the manifest names was written at the signal, not by a periodic save
    # before it (the loop may have made more than one periodic save before the signal landed).
    assert manifest['time'] >= signalled_at, manifest
    assert 'interrupted; latest checkpoint: ' + str(checkpoint.latest_checkpoint(run)) in err
    assert os.path.exists(checkpoint.latest_checkpoint(run))
