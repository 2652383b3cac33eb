"""The training graph's parameters that serl_train writes: RLPD settings, keys, episodes."""

from serl_agent.agents.config import RLPDConfig
from serl_bringup import main_job
import yaml


def _written(tmp_path, *argv):
    args = main_job.parse_args(['--run-dir', str(tmp_path), *argv])
    return yaml.safe_load(main_job.training_params(args, tmp_path).read_text())


def test_default_training_uses_the_pick_cube_rlpd_settings(tmp_path):
    params = _written(tmp_path)
    learner = params['learner_node']['ros__parameters']
    actor = params['actor_node']['ros__parameters']
    config = RLPDConfig.from_yaml(learner['rlpd_config'])
    assert learner['rlpd_config'].endswith('config/agent_pick_cube.yaml')
    assert (config.num_critics, config.utd_ratio) == (2, 10)
    assert config.effective_subset_size == 1 and not config.entropy_backup
    assert config.init_temperature == 0.01
    assert learner['observation_keys'] == ['tcp_pose', 'tcp_vel', 'gripper_width',
                                           'object_pos', 'object_rel']
    assert actor['max_episode_steps'] == 50
    assert actor['ground_truth_success'] is True  # evaluations count the sim's success


def test_rlpd_config_and_episode_length_are_arguments(tmp_path):
    own = tmp_path / 'mine.yaml'
    own.write_text('rlpd: {utd_ratio: 4}\n')
    params = _written(tmp_path, '--rlpd-config', str(own), '--episode-steps', '80')
    assert params['learner_node']['ros__parameters']['rlpd_config'] == str(own.resolve())
    assert params['actor_node']['ros__parameters']['max_episode_steps'] == 80
