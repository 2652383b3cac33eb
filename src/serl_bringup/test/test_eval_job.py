"""serl_eval's bad input (one line, before any episode) and its Gymnasium path with a video."""

import json

import gymnasium as gym
import numpy as np
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.data.policy_io import encode_policy
from serl_agent.runtime.video import count_frames
from serl_bringup import eval_job
import serl_sim  # noqa: F401


def _saved_run(path, space, task='PandaPickCube-v0'):
    agent = RLPDAgent(space, gym.spaces.Box(-1, 1, (4,), np.float32),
                      RLPDConfig(hidden_dims=(16,), num_critics=2), seed=0)
    config_json, data = encode_policy(agent)
    path.mkdir()
    (path / 'policy_config.json').write_text(config_json)
    (path / 'policy.pt').write_bytes(data)
    (path / 'result.json').write_text(json.dumps({'task': task}))
    return path


def test_bad_runs_and_video_paths_are_one_line_errors(tmp_path, capsys):
    assert eval_job.main(['--run-dir', str(tmp_path / 'none')]) == 1
    assert capsys.readouterr().err.strip() == f'serl_eval: {tmp_path / "none"}: no such run ' \
                                              'directory'
    (tmp_path / 'empty').mkdir()
    assert eval_job.main(['--run-dir', str(tmp_path / 'empty')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f'{tmp_path / "empty" / "policy.pt"}: no such file' in err[0]
    space = gym.make('PandaPickCube-v0').observation_space
    odd = gym.spaces.Dict({**space.spaces, 'joint_torques': gym.spaces.Box(-1, 1, (7,))})
    run = _saved_run(tmp_path / 'odd', odd)
    assert eval_job.main(['--run-dir', str(run), '--no-ros']) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "observes ['gripper_width', 'joint_torques'" in err[0], err
    good = _saved_run(tmp_path / 'good', space)
    assert eval_job.main(['--run-dir', str(good), '--no-ros', '--video',
                          str(tmp_path / 'no_such_dir' / 'x.avi')]) == 1
    assert 'must end in .mp4' in capsys.readouterr().err
    assert not list(good.glob('eval_*.json'))   # nothing ran


def test_gymnasium_path_writes_the_result_and_a_decodable_video(tmp_path, capsys):
    space = gym.make('PandaPickCube-v0').observation_space
    run = _saved_run(tmp_path / 'run', space)
    video = tmp_path / 'films' / 'eval.mp4'
    assert eval_job.main(['--run-dir', str(run), '--no-ros', '--episodes', '2',
                          '--video', str(video)]) == 0
    assert '2 episodes: success' in capsys.readouterr().out
    (path,) = run.glob('eval_*.json')
    result = json.loads(path.read_text())
    assert result['episodes'] == 2 and result['path'] == 'gymnasium'
    assert [e['steps'] for e in result['per_episode']] == [50, 50]   # default episode length
    assert count_frames(video) == result['video_frames'] == 2 * (50 + 10)
