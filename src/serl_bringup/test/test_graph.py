"""The graph description: argument resolution and the node specs every graph builds."""

from pathlib import Path

import pytest
from serl_bringup.graph import default_config_dir, get_graph, GRAPHS


def test_unknown_argument_is_named():
    with pytest.raises(ValueError, match='no argument.*colour'):
        get_graph('sim').resolve({'colour': 'red'})


def test_value_outside_choices_is_named():
    with pytest.raises(ValueError, match='task:=Pong'):
        get_graph('sim').resolve({'task': 'Pong'})


def test_unknown_graph_lists_graphs():
    with pytest.raises(KeyError, match='graphs: sim'):
        get_graph('moon')


def test_defaults_fill_missing_arguments():
    values = get_graph('sim').resolve({'task': 'PandaPegInsert-v0'})
    assert values['task'] == 'PandaPegInsert-v0'
    assert values['reward'] == 'classifier'


@pytest.mark.parametrize('name', sorted(GRAPHS))
def test_every_parameter_file_exists(name):
    config_dir = default_config_dir()
    for spec in GRAPHS[name].nodes({}, config_dir):
        for path in spec.parameter_files:
            assert Path(path).is_file(), f'{spec.name}: {path}'


def test_node_names_are_unique_in_every_graph():
    for graph in GRAPHS.values():
        names = [spec.name for spec in graph.nodes({'rviz': 'true'}, default_config_dir())]
        assert len(names) == len(set(names)), graph.name


def test_ground_truth_reward_drops_the_reward_node():
    with_classifier = {s.name for s in get_graph('sim').nodes({}, Path('/c'))}
    without = {s.name for s in get_graph('sim').nodes({'reward': 'ground_truth'}, Path('/c'))}
    assert with_classifier - without == {'reward_node'}


def test_real_graph_has_no_simulator():
    names = {s.name for s in get_graph('real').nodes({}, Path('/c'))}
    assert 'sim_node' not in names
    assert {'cartesian_impedance_controller', 'actor_node', 'learner_node'} <= names


def test_real_graph_actor_observes_no_object_pose():
    real = {s.name: s for s in get_graph('real').nodes({}, Path('/c'))}
    assert dict(real['actor_node'].parameters)['object_pose'] is False
    assert dict(real['actor_node'].parameters)['robot'] == 'real'
    sim = {s.name: s for s in get_graph('sim').nodes({}, Path('/c'))}
    assert 'object_pose' not in dict(sim['actor_node'].parameters)  # config/: true


def test_rviz_gets_the_project_config_and_the_sim_urdf():
    specs = {s.name: s for s in get_graph('sim').nodes({'rviz': 'true'}, default_config_dir())}
    assert Path(specs['rviz2'].arguments[1]).is_file()
    urdf = dict(specs['robot_state_publisher'].parameters)['robot_description']
    assert '<robot' in urdf and 'fr3_joint7' in urdf


def test_record_demos_expert_holds_success_and_the_recorder_knows():
    specs = {s.name: s for s in get_graph('record_demos').nodes({}, Path('/c'))}
    assert dict(specs['actor_node'].parameters)['success_hold_steps'] == 20
    assert dict(specs['demo_recorder'].parameters)['success_hold_steps'] == 20
    graph = get_graph('record_demos')
    specs = {s.name: s for s in graph.nodes({'hold_success': '0'}, Path('/c'))}
    assert dict(specs['actor_node'].parameters)['success_hold_steps'] == 0
    assert dict(specs['demo_recorder'].parameters)['success_hold_steps'] == 0


def test_record_demos_teleop_ends_at_the_success_button():
    graph = get_graph('record_demos')
    specs = {s.name: s for s in graph.nodes({'teleop': 'external'}, Path('/c'))}
    assert dict(specs['actor_node'].parameters)['success_hold_steps'] == 0
    assert dict(specs['demo_recorder'].parameters)['success_hold_steps'] == 0


def test_record_demos_scripted_explorer_records_failure_frames_without_holding():
    graph = get_graph('record_demos')
    specs = {s.name: s for s in graph.nodes({'scripted': 'explore'}, Path('/c'))}
    actor = dict(specs['actor_node'].parameters)
    assert actor['policy'] == 'explore' and actor['reward_source'] == 'ground_truth'
    assert actor['success_hold_steps'] == 0
    assert dict(specs['demo_recorder'].parameters)['success_hold_steps'] == 0
    assert dict(next(s for s in get_graph('record_demos').nodes({}, Path('/c'))
                     if s.name == 'actor_node').parameters)['policy'] == 'expert'


def test_record_demos_bad_hold_success_is_named():
    with pytest.raises(ValueError, match='hold_success'):
        get_graph('record_demos').nodes({'hold_success': '-3'}, Path('/c'))


def test_the_actor_runs_the_expert_of_the_graphs_task():
    for graph in ('record_demos', 'sim'):
        specs = {s.name: s for s in get_graph(graph).nodes({'task': 'PandaPegInsert-v0'},
                                                           Path('/c'))}
        assert dict(specs['actor_node'].parameters)['task'] == 'PandaPegInsert-v0', graph
        assert dict(specs['sim_node'].parameters)['task'] == 'PandaPegInsert-v0', graph


def test_teleop_in_the_training_graph_lets_a_person_take_over():
    for graph in ('sim', 'real'):
        specs = {s.name: s for s in get_graph(graph).nodes({'teleop': 'gamepad'},
                                                           Path('/c'))}
        assert dict(specs['teleop_node'].parameters)['input'] == 'gamepad', graph
        assert dict(specs['actor_node'].parameters)['teleop_intervention'] is True, graph
        plain = {s.name: s for s in get_graph(graph).nodes({}, Path('/c'))}
        assert 'teleop_node' not in plain
        assert 'teleop_intervention' not in dict(plain['actor_node'].parameters)


def test_vice_reward_adds_vice_settings_and_in_sim_the_label_server():
    config_dir = default_config_dir()
    args = {'reward': 'vice', 'demos': '/d/a,/d/b', 'run_dir': '/runs/x'}
    sim = {s.name: s for s in get_graph('sim').nodes(args, config_dir)}
    reward = sim['reward_node']
    assert reward.parameter_files[-1] == str(config_dir / 'reward_vice.yaml')
    params = dict(reward.parameters)
    assert params['vice_success_data'] == ['/d/a', '/d/b']
    assert params['vice_model_path'] == '/runs/x/reward_vice.pt'
    assert params['labels_path'] == '/runs/x/reward_labels.npz'
    assert 'label_server_node' in sim
    assert dict(sim['actor_node'].parameters)['reward_source'] == 'classifier'
    real = {s.name for s in get_graph('real').nodes(args, config_dir)}
    assert 'reward_node' in real and 'label_server_node' not in real   # serl_label_cli there
    classifier = {s.name for s in get_graph('sim').nodes({}, config_dir)}
    assert 'label_server_node' not in classifier
    with pytest.raises(ValueError, match='reward:=vice needs demos'):
        get_graph('sim').nodes({'reward': 'vice'}, config_dir)


def test_bin_relocation_trains_forward_backward_with_a_learner_and_reward_per_direction():
    config_dir = default_config_dir()
    args = {'task': 'PandaBinRelocation-v0', 'demos': '/d', 'run_dir': '/runs/bin',
            'reward_model': '/runs/bin/reward_{direction}.pt'}
    specs = {s.label: s for s in get_graph('sim').nodes(args, config_dir)}
    assert {'forward/learner_node', 'backward/learner_node', 'forward/reward_node',
            'backward/reward_node', 'actor_node'} <= set(specs)
    learner = specs['backward/learner_node']
    assert dict(learner.parameters)['run_dir'] == '/runs/bin/backward'
    assert dict(learner.parameters)['demo_paths'] == ['/d/backward']
    assert ('/serl/transitions', '/serl/backward/transitions') in learner.remappings
    assert learner.respawn   # a crash of one direction's learner leaves the other alone
    reward = specs['forward/reward_node']
    assert dict(reward.parameters)['model_path'] == '/runs/bin/reward_forward.pt'
    assert reward.remappings == (('/reward', '/reward/forward'),)
    actor = dict(specs['actor_node'].parameters)
    assert actor['directions'] == ['forward', 'backward'] and actor['ground_truth_success']
    # the TCP stays over the tray and below its rim, as in the sim task (a held cube cannot
    # leave it)
    from serl_sim.tasks.bin_relocation import TRAY_MAX, TRAY_MIN, TRAY_WALL_HEIGHT
    assert TRAY_MIN[0] < actor['workspace_min'][0] < actor['workspace_max'][0] < TRAY_MAX[0]
    assert TRAY_MIN[1] < actor['workspace_min'][1] < actor['workspace_max'][1] < TRAY_MAX[1]
    assert 0.0 <= actor['workspace_min'][2] < actor['workspace_max'][2] < TRAY_WALL_HEIGHT
    # the same wiring on the robot, asked for by name
    real_args = {k: v for k, v in args.items() if k != 'task'}
    real_args['forward_backward'] = 'true'
    real = {s.label for s in get_graph('real').nodes(real_args, config_dir)}
    assert {'forward/learner_node', 'backward/reward_node'} <= real and 'sim_node' not in real
    plain_args = dict(args, forward_backward='false', reward='ground_truth')
    plain = {s.label for s in get_graph('sim').nodes(plain_args, config_dir)}
    assert 'learner_node' in plain and 'forward/learner_node' not in plain
    with pytest.raises(ValueError, match='reward model per direction'):
        get_graph('sim').nodes(dict(args, reward_model='/one.pt'), config_dir)
    with pytest.raises(ValueError, match='vice is not available'):
        get_graph('sim').nodes(dict(args, reward='vice'), config_dir)
