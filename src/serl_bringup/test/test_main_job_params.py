"""The training graph's parameters that serl_train writes: agent settings, keys, episodes."""

import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.registry import load_config
from serl_bringup import main_job
from serl_bringup.graph import get_graph
from serl_bringup.job.cli import parse_args
from serl_bringup.job.common import config_dir
from serl_bringup.job.preflight import other_graph_nodes
from serl_bringup.job.pretrain import reward_training_command
from serl_bringup.job.record import record_negatives
from serl_bringup.job.training_params import training_graph_argv, training_params
from serl_bringup.launcher import parse_launch_arguments
from serl_bringup.recipes import directions_of
import yaml


def _written(tmp_path, *argv):
    args = parse_args(['--run-dir', str(tmp_path), *argv])
    return yaml.safe_load(training_params(args, tmp_path).read_text())


def test_default_training_uses_the_pick_cube_rlpd_settings(tmp_path):
    params = _written(tmp_path)
    learner = params['learner_node']['ros__parameters']
    actor = params['actor_node']['ros__parameters']
    config = RLPDConfig.from_yaml(learner['agent_config'])
    assert learner['agent'] == 'rlpd'
    assert learner['agent_config'].endswith('config/agent_pick_cube.yaml')
    assert learner['prior_paths'] == ['']
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
    assert params['learner_node']['ros__parameters']['agent_config'] == str(own.resolve())
    assert params['actor_node']['ros__parameters']['max_episode_steps'] == 80


def test_agent_and_prior_runs_are_arguments(tmp_path):
    params = _written(tmp_path, '--agent', 'awac', '--prior', str(tmp_path / 'earlier'))
    learner = params['learner_node']['ros__parameters']
    assert learner['agent'] == 'awac'
    assert learner['prior_paths'] == [str((tmp_path / 'earlier').resolve())]
    config = load_config('awac', learner['agent_config'])   # the pick-cube file's awac section
    assert (config.batch_size, config.offline_steps, config.awac_lambda) == (256, 10000, 2.0)
    smoke = _written(tmp_path, '--agent', 'bc', '--smoke')['learner_node']['ros__parameters']
    assert load_config('bc', smoke['agent_config']).offline_steps == 20


def test_teleop_reaches_the_training_graph(tmp_path):
    for teleop in ('none', 'gamepad'):
        args = parse_args(['--run-dir', str(tmp_path), '--teleop', teleop])
        argv = training_graph_argv(args, tmp_path, 'demos', None)
        assert f'teleop:={teleop}' in argv
        # the graph accepts it: a teleop node joins when a person may take over
        names = [s.name for s in get_graph('sim').nodes(parse_launch_arguments(argv[1:]),
                                                        tmp_path)]
        assert ('teleop_node' in names) == (teleop != 'none')


def test_viz_reaches_the_training_graph(tmp_path):
    args = parse_args(['--run-dir', str(tmp_path), '--viz'])
    argv = training_graph_argv(args, tmp_path, 'demos', None)
    names = [s.name for s in get_graph('sim').nodes(parse_launch_arguments(argv[1:]), tmp_path)]
    assert 'viz:=true' in argv and 'serl_viewer' in names


def test_vision_task_learns_only_from_what_a_real_fr3_provides(tmp_path):
    """The vision job's learner keys are a subset of a real-robot actor's observation."""
    import rclpy
    from rclpy.node import Node
    from serl_agent.ros.ros_env import RosEnv, RosEnvSettings

    encoder = tmp_path / 'image_encoder.pt'
    args = parse_args(['--run-dir', str(tmp_path), '--task', 'PandaPickCubeVision-v0'])
    params = yaml.safe_load(training_params(args, tmp_path, encoder).read_text())
    learner = params['learner_node']['ros__parameters']
    actor = params['actor_node']['ros__parameters']
    assert learner['image_encoder'] == actor['image_encoder'] == str(encoder)
    assert actor['image_keys'] == ['front', 'wrist'] and actor['object_pose'] is False

    # what the actor observes on the real arm (serl_launch real: no /sim/object_pose)
    real_args = parse_launch_arguments(['demos:=d'])
    real_actor = next(s for s in get_graph('real').nodes(real_args, tmp_path)
                      if s.name == 'actor_node')
    assert ('object_pose', False) in real_actor.parameters
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = Node('observation_keys_probe', context=context)
        env = RosEnv(node, RosEnvSettings(robot='real', reward_source='none',
                                          object_pose=False, image_keys=('front', 'wrist')))
        real_keys = set(env.observation_space.spaces)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    assert set(learner['observation_keys']) <= real_keys
    assert not any(k.startswith('object') for k in learner['observation_keys'])
    # the state job, by contrast, needs the sim's object pose
    state = _written(tmp_path)['learner_node']['ros__parameters']['observation_keys']
    assert not set(state) <= real_keys


def test_each_task_has_its_run_dir_and_another_tasks_run_is_not_resumed(tmp_path, capsys):
    assert parse_args([]).run_dir == 'runs/pick_cube'
    vision = parse_args(['--task', 'PandaPickCubeVision-v0'])
    assert vision.run_dir == 'runs/pick_cube_vision'
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'job_args.json').write_text('{"task": "PandaPickCube-v0"}\n')
    status = main_job.main(['--task', 'PandaPickCubeVision-v0', '--run-dir', str(run)])
    assert status == 2
    assert 'holds a PandaPickCube-v0 run, not PandaPickCubeVision-v0' in capsys.readouterr().out
    assert (run / 'job_args.json').read_text() == '{"task": "PandaPickCube-v0"}\n'   # kept


def test_vice_reward_records_no_failures_and_starts_the_vice_graph(tmp_path):
    args = parse_args(['--run-dir', str(tmp_path), '--reward', 'vice'])
    assert record_negatives(args, tmp_path) is None   # returns before any graph
    model = tmp_path / 'reward_classifier.pt'
    argv = training_graph_argv(args, tmp_path, str(tmp_path / 'demos'), model)
    assert 'reward:=vice' in argv and f'reward_model:={model}' in argv
    launch_args = parse_launch_arguments(argv[1:])
    nodes = {s.name for s in get_graph('sim').nodes(launch_args, config_dir())}
    assert {'reward_node', 'label_server_node'} <= nodes


def test_bin_relocation_trains_forward_backward_from_per_direction_data(tmp_path):
    args = parse_args(['--run-dir', str(tmp_path), '--task', 'PandaBinRelocation-v0'])
    assert args.episode_steps == 100 and directions_of(args) == ('forward', 'backward')
    params = yaml.safe_load(training_params(args, tmp_path).read_text())
    assert 'learner_node' not in params   # the namespaced learners take /**/learner_node
    learner = params['/**/learner_node']['ros__parameters']
    assert learner['observation_keys'][-2:] == ['object_pos', 'object_rel']
    model = tmp_path / 'reward_classifier_{direction}.pt'
    argv = training_graph_argv(args, tmp_path, str(tmp_path / 'demos'), model)
    nodes = {s.label: s for s in get_graph('sim').nodes(parse_launch_arguments(argv[1:]),
                                                        config_dir())}
    assert dict(nodes['forward/reward_node'].parameters)['model_path'] == \
        str(tmp_path / 'reward_classifier_forward.pt')
    assert dict(nodes['backward/learner_node'].parameters)['demo_paths'] == \
        [str(tmp_path / 'demos' / 'backward')]


def test_precision_overrides_the_agent_config(tmp_path):
    params = _written(tmp_path, '--precision', 'bf16')
    learner = params['learner_node']['ros__parameters']
    config = RLPDConfig.from_yaml(learner['agent_config'])
    assert config.precision == 'bf16' and (config.num_critics, config.utd_ratio) == (2, 10)
    assert learner['agent_config'] == str(tmp_path / 'rlpd_config.yaml')


def test_log_p_reward_sets_the_reward_node_mode_and_the_agents_reward_scale(tmp_path, capsys):
    params = _written(tmp_path, '--reward', 'vice', '--reward-scale', 'log_p',
                      '--precision', 'bf16')
    assert params['reward_node']['ros__parameters']['mode'] == 'vice'   # log p(success | s)
    config = RLPDConfig.from_yaml(params['learner_node']['ros__parameters']['agent_config'])
    assert (config.reward_scale, config.precision, config.num_critics) == (0.1, 'bf16', 2)
    from serl_reward.classifier import MIN_LOG_PROBABILITY   # the reward node's floor
    assert params['actor_node']['ros__parameters']['missing_reward'] == MIN_LOG_PROBABILITY
    (tmp_path / 'sparse').mkdir()
    sparse = _written(tmp_path / 'sparse', '--reward', 'vice')
    assert 'mode' not in sparse.get('reward_node', {}).get('ros__parameters', {})
    assert RLPDConfig.from_yaml(
        sparse['learner_node']['ros__parameters']['agent_config']).reward_scale == 1.0
    with pytest.raises(SystemExit):
        parse_args(['--reward', 'ground_truth', '--reward-scale', 'log_p'])
    assert '--reward-scale log_p needs a classifier reward' in capsys.readouterr().err


def test_agent_settings_are_set_on_the_command_line_and_checked_early(tmp_path, capsys):
    params = _written(tmp_path, '--agent-set', 'actor_bc_weight=1', 'num_critics=10',
                      '--precision', 'bf16')
    config = RLPDConfig.from_yaml(params['learner_node']['ros__parameters']['agent_config'])
    assert (config.actor_bc_weight, config.num_critics, config.precision) == (1.0, 10, 'bf16')
    assert config.utd_ratio == 10   # the rest from config/agent_pick_cube.yaml
    run = tmp_path / 'refused'
    assert main_job.main(['--run-dir', str(run), '--agent-set', 'num_critic=10']) == 2
    out = capsys.readouterr().out
    assert 'error: agent settings:' in out and "unknown RLPDConfig keys: ['num_critic']" in out
    assert not run.exists()   # refused before the run directory was made
    with pytest.raises(SystemExit):
        parse_args(['--agent-set', 'num_critics'])
    assert '--agent-set expects key=value' in capsys.readouterr().err


def test_bin_relocation_trains_rlpd_with_its_recipes_bc_term_unless_told_otherwise(tmp_path):
    def bc_weight(name, *argv):
        (tmp_path / name).mkdir()
        params = _written(tmp_path / name, *argv)
        learner = params.get('/**/learner_node', params.get('learner_node'))
        config = RLPDConfig.from_yaml(learner['ros__parameters']['agent_config'])
        return config.actor_bc_weight, config.actor_bc_action

    task = ('--task', 'PandaBinRelocation-v0')
    # the task's recipe, over agent_pick_cube.yaml
    assert bc_weight('recipe', *task) == (1.0, 'mean')
    assert bc_weight('off', *task, '--agent-set', 'actor_bc_weight=0')[0] == 0.0   # user's wins
    own = str(config_dir() / 'agent_pick_cube.yaml')
    assert bc_weight('own', *task, '--agent-config', own)[0] == 0.0   # a user's file is kept
    assert bc_weight('pick', '--task', 'PandaPickCube-v0')[0] == 0.0


def test_the_env_step_budget_is_the_tasks_unless_given():
    assert parse_args([]).max_env_steps == 10000   # pick-cube
    assert parse_args(['--task', 'PandaBinRelocation-v0']).max_env_steps == 30000   # in all
    assert parse_args(['--task', 'PandaBinRelocation-v0',
                       '--max-env-steps', '500']).max_env_steps == 500


def test_the_reward_classifier_threshold_has_a_floor(tmp_path, capsys):
    args = parse_args(['--run-dir', str(tmp_path)])
    cmd = reward_training_command(args, tmp_path / 'm.pt', ['demos', 'negatives'])
    assert cmd[cmd.index('--min-threshold') + 1] == '0.95'
    assert cmd[cmd.index('--target-fpr') + 1] == '0.001'
    args = parse_args(['--run-dir', str(tmp_path), '--reward-min-threshold', '0.8'])
    cmd = reward_training_command(args, tmp_path / 'm.pt', ['demos'])
    assert cmd[cmd.index('--min-threshold') + 1] == '0.8'
    with pytest.raises(SystemExit):
        parse_args(['--reward-min-threshold', '1'])
    assert '--reward-min-threshold must be in [0, 1), got 1.0' in capsys.readouterr().err


def test_vision_bin_relocation_learns_from_the_cameras_in_both_directions(tmp_path):
    args = parse_args(['--run-dir', str(tmp_path), '--task', 'PandaBinRelocationVision-v0'])
    params = yaml.safe_load(training_params(args, tmp_path, tmp_path / 'enc.pt')
                            .read_text())
    learner = params['/**/learner_node']['ros__parameters']
    actor = params['actor_node']['ros__parameters']
    assert 'object_pos' not in learner['observation_keys'] and actor['object_pose'] is False
    assert learner['image_encoder'] == actor['image_encoder'] == str(tmp_path / 'enc.pt')


def test_another_graph_on_the_domain_is_refused(tmp_path, capsys):
    import threading
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from serl_common import qos
    assert other_graph_nodes(wait=0.5) == []
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node('sim_node', context=context)   # another run's sim on this domain
    publisher = node.create_publisher(JointState, '/joint_states', qos.SENSOR)
    node.create_timer(0.02, lambda: publisher.publish(JointState()))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        assert other_graph_nodes(wait=10.0) == ['sim_node']
        assert main_job.main(['--run-dir', str(tmp_path / 'run')]) == 2
        assert 'another graph runs on ROS_DOMAIN_ID' in capsys.readouterr().out
        assert not (tmp_path / 'run' / 'demos').exists()   # nothing started
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
