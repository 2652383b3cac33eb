"""
The serl-ros2 node graphs, described once.

Both ways of starting the system read this module, so they cannot drift apart:

- ``launch/*.launch.py`` turn each :class:`NodeSpec` into a ``launch_ros.actions.Node``
  (:mod:`serl_bringup.launch_description`), for machines with a full ROS 2 install;
- ``serl_launch`` turns each :class:`NodeSpec` into a process command line
  (:mod:`serl_bringup.command_line`), for machines without launch_ros.

A graph is a list of launch arguments and a function from resolved arguments to node specs.
Parameter files are named relative to the project's ``config/`` directory.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Tuple, Union

ParameterValue = Union[bool, int, float, str, List[float], List[str]]


@dataclass(frozen=True)
class Argument:
    """A launch argument: ``name:=value`` on the command line of either launcher."""

    name: str
    default: str
    description: str
    choices: Tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    """
    One node of a graph, in the terms ``launch_ros.actions.Node`` uses.

    :ivar package: ROS package that installs the executable.
    :ivar executable: executable name under ``lib/<package>``.
    :ivar name: node name (overrides the name given in code).
    :ivar parameter_files: YAML parameter files, absolute paths, applied in order.
    :ivar parameters: parameter overrides applied after the files, as ``(name, value)`` pairs.
    :ivar remappings: topic/service remappings ``(from, to)``.
    :ivar arguments: command-line arguments before ``--ros-args`` (e.g. rviz2's ``-d file``).
    :ivar required: when this node exits, the launcher stops the whole graph (a ``respawn``
        node: when it died ``respawn_limit`` times within ``respawn_window`` seconds).
    :ivar respawn: restart the node when it exits (launch_ros's ``respawn``), after
        ``respawn_delay`` seconds, doubled for each earlier death within the window.
    :ivar respawn_delay: seconds before the first restart (launch_ros's ``respawn_delay``).
    :ivar namespace: the node's namespace without slashes ('' = the root namespace); the
        parameter files' sections apply by name with a ``/**/`` key (``/**/learner_node``).

    """

    package: str
    executable: str
    name: str
    parameter_files: Tuple[str, ...] = ()
    parameters: Tuple[Tuple[str, ParameterValue], ...] = ()
    remappings: Tuple[Tuple[str, str], ...] = ()
    arguments: Tuple[str, ...] = ()
    required: bool = False
    respawn: bool = False
    respawn_delay: float = 1.0
    namespace: str = ''

    @property
    def label(self) -> str:
        """Return the node's name within the graph: ``<namespace>/<name>`` or ``<name>``."""
        return f'{self.namespace}/{self.name}' if self.namespace else self.name


@dataclass(frozen=True)
class Graph:
    """A named graph: its arguments and the function that builds its nodes."""

    name: str
    description: str
    arguments: Tuple[Argument, ...]
    build: Callable[[Mapping[str, str], Path], List[NodeSpec]] = field(compare=False)

    def resolve(self, given: Mapping[str, str]) -> Dict[str, str]:
        """
        Return every argument's value: the given one, else its default.

        :raises ValueError: for an argument the graph does not declare, or a value outside the
            argument's choices.

        """
        known = {a.name: a for a in self.arguments}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(
                f"graph '{self.name}' has no argument(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(known)}")
        values = {}
        for arg in self.arguments:
            value = given.get(arg.name, arg.default)
            if arg.choices and value not in arg.choices:
                raise ValueError(
                    f"argument {arg.name}:={value} is not one of {', '.join(arg.choices)}")
            values[arg.name] = value
        return values

    def nodes(self, given: Mapping[str, str], config_dir: Path) -> List[NodeSpec]:
        """Resolve the arguments and build the node specs (see :meth:`resolve`)."""
        return self.build(self.resolve(given), Path(config_dir))


def _flag(value: str) -> bool:
    return value.lower() in ('true', '1', 'yes')


TASKS = ('PandaPickCube-v0', 'PandaPickCubeVision-v0', 'PandaPegInsert-v0',
         'PandaBinRelocation-v0', 'PandaBinRelocationVision-v0')
#: tasks trained forward-backward (reset-free) by default: two policies that undo each other
FORWARD_BACKWARD_TASKS = ('PandaBinRelocation-v0', 'PandaBinRelocationVision-v0')
DIRECTIONS = ('forward', 'backward')
#: the learner's topics, remapped to /serl/<direction>/... for each direction's learner
LEARNER_TOPICS = ('transitions', 'transition_ack', 'policy_weights', 'learner_status')
CAMERA_NAMES = ('front', 'wrist')   # the sim's cameras; /cameras/<name>/image_raw
BOOL = ('true', 'false')

_ROBOT_ARGS = (
    Argument('rviz', 'false', 'start robot_state_publisher and rviz2 (full ROS install)', BOOL),
)
_PARAMS_ARG = Argument(
    'params_file', '', 'extra parameter file (YAML keyed by node name) applied after config/ to '
    'every node, e.g. written by serl_train')
_AGENT_ARGS = (
    Argument('run_dir', 'runs/default', 'learner run directory (resumed when it exists)'),
    Argument('demos', '', 'demo bag path(s), comma-separated, for the demo buffer'),
    Argument('reward', 'classifier', 'reward source: classifier (fixed), vice (updated while '
             'RL runs against the states the policy visits, with label queries: the label '
             "server in sim, serl_label_cli on a robot), ground_truth (the sim's)",
             ('classifier', 'vice', 'ground_truth')),
    Argument('reward_model', 'runs/default/reward_classifier.pt',
             'reward classifier model file (reward:=classifier or vice; with vice, the starting '
             "point); forward-backward: one per direction, the path has '{direction}' in it"),
    Argument('forward_backward', 'auto', "two policies that reset each other (SERL's "
             'forward-backward reset-free training): a learner, a reward node and a demo '
             'directory (<demos>/<direction>) per direction, one actor running them in turns; '
             'auto: on for the bin relocation tasks', ('auto', 'true', 'false')),
    Argument('viz', 'false', 'start serl_viewer: a live view in the Foxglove app (cameras, '
             'TCP, target, safety box, reward, episodes; ws://127.0.0.1:8765)', BOOL),
    Argument('teleop', 'none', 'a person may take over from the policy while it trains '
             '(HIL-SERL): keyboard (this terminal) / spacemouse / gamepad = the serl_teleop '
             'node; external = a teleop publisher started elsewhere; none',
             ('none', 'keyboard', 'spacemouse', 'gamepad', 'external')),
)


def _with_params_file(nodes: List[NodeSpec], args: Mapping[str, str]) -> List[NodeSpec]:
    """Append the ``params_file`` argument (when given) to every serl node's parameter files."""
    extra = args.get('params_file', '')
    if not extra:
        return nodes
    path = str(Path(extra).resolve())
    return [replace(n, parameter_files=n.parameter_files + (path,))
            if n.package.startswith('serl_') else n for n in nodes]


def _robot_description() -> str:
    """Return the URDF of the simulated FR3 with its camera frames (generated by serl_sim)."""
    from ament_index_python.packages import get_package_share_directory
    return (Path(get_package_share_directory('serl_sim')) / 'models' / 'fr3_sim.urdf').read_text()


def _viz_nodes(config_dir: Path) -> List[NodeSpec]:
    return [
        NodeSpec('robot_state_publisher', 'robot_state_publisher', 'robot_state_publisher',
                 parameters=(('robot_description', _robot_description()),)),
        NodeSpec('rviz2', 'rviz2', 'rviz2', arguments=('-d', str(config_dir / 'serl.rviz'))),
    ]


def _controller(config_dir: Path, simulated: bool) -> NodeSpec:
    files = (str(config_dir / 'controller.yaml'),)
    files += (str(config_dir / ('controller_sim.yaml' if simulated else 'real.yaml')),)
    return NodeSpec('serl_controller', 'cartesian_impedance_controller',
                    'cartesian_impedance_controller', parameter_files=files, required=True)


def directions_of(args: Mapping[str, str]) -> Tuple[str, ...]:
    """
    Return the directions of a forward-backward graph, or ``('',)`` for one policy.

    ``forward_backward:=true``, or ``auto`` with a task of :data:`FORWARD_BACKWARD_TASKS`.
    """
    mode = args.get('forward_backward', 'auto')
    if mode == 'true' or (mode == 'auto' and args.get('task') in FORWARD_BACKWARD_TASKS):
        return DIRECTIONS
    return ('',)


def _agent_nodes(args: Mapping[str, str], config_dir: Path, robot: str) -> List[NodeSpec]:
    directions = directions_of(args)
    if directions != ('',):
        return _forward_backward_nodes(args, config_dir, robot, directions)
    agent_yaml = (str(config_dir / 'agent_nodes.yaml'),)
    demos = [d for d in args['demos'].split(',') if d]
    nodes = _reward_nodes(args, config_dir, robot, demos)
    reward_source = 'ground_truth' if args['reward'] == 'ground_truth' else 'classifier'
    nodes.append(NodeSpec('serl_agent', 'actor_node', 'actor_node',
                          parameter_files=agent_yaml,
                          parameters=(('reward_source', reward_source), ('robot', robot))
                          # the sim's task (its scripted expert); no /sim/object_pose on the
                          # real arm
                          + ((('task', args['task']),) if robot == 'sim' else
                             (('object_pose', False),))
                          + ((('teleop_intervention', True),) if args['teleop'] != 'none'
                             else ()),
                          required=True))
    nodes += _teleop_nodes(args['teleop'], config_dir)
    if _flag(args['viz']):
        nodes.append(NodeSpec('serl_bringup', 'serl_viewer', 'serl_viewer',
                              parameter_files=(str(config_dir / 'viewer.yaml'),)))
    learner_params = (('run_dir', args['run_dir']),)
    if demos:  # an empty list has no type a ROS parameter can take
        learner_params += (('demo_paths', demos),)
    if not _flag(args.get('learner', 'true')):   # evaluation of a saved policy: no learning
        return nodes
    # a learner that dies restarts from its checkpoint and spool; the actor re-sends what was
    # not acknowledged (docs/agent_nodes.md)
    nodes.append(NodeSpec('serl_agent', 'learner_node', 'learner_node',
                          parameter_files=agent_yaml, parameters=learner_params,
                          required=True, respawn=True, respawn_delay=2.0))
    return nodes


def _forward_backward_nodes(args: Mapping[str, str], config_dir: Path, robot: str,
                            directions: Tuple[str, ...]) -> List[NodeSpec]:
    """
    Each direction's reward node and learner, one actor that runs the directions in turns.

    Direction ``d``, in namespace ``d``: ``reward_node`` (model ``reward_model`` with
    ``{direction}`` = d, publishing ``/reward/<d>``) and ``learner_node`` (topics
    ``/serl/<d>/...``, run directory ``<run_dir>/<d>``, demos ``<demos>/<d>``, restarted on
    its own when it dies: a crash of one leaves the other direction's buffers and checkpoints
    alone). Parameter files reach them through their ``/**/<name>`` sections.
    """
    if args['reward'] == 'vice':
        raise ValueError('reward:=vice is not available for forward-backward training yet '
                         '(reward:=classifier or ground_truth)')
    if args['reward'] == 'classifier' and '{direction}' not in args['reward_model']:
        raise ValueError('forward-backward training needs one reward model per direction: '
                         "reward_model:=<path with '{direction}'>, e.g. "
                         'runs/bin/reward_classifier_{direction}.pt')
    agent_yaml = (str(config_dir / 'agent_nodes.yaml'),)
    demos = [d for d in args['demos'].split(',') if d]
    run_dir = Path(args['run_dir'])
    nodes = []
    for d in directions:
        if args['reward'] == 'classifier':
            nodes.append(NodeSpec(
                'serl_reward', 'reward_node', 'reward_node',
                parameter_files=(str(config_dir / 'reward.yaml'),),
                parameters=(('model_path', args['reward_model'].replace('{direction}', d)),),
                remappings=(('/reward', f'/reward/{d}'),), required=True, namespace=d))
    reward_source = 'ground_truth' if args['reward'] == 'ground_truth' else 'classifier'
    actor_params = (('reward_source', reward_source), ('robot', robot),
                    ('directions', list(directions)))
    if robot == 'sim':
        # the task's workspace box: the TCP stays over the tray (on a robot: set the actor's
        # workspace_min/max over the bins in a params file, docs/forward_backward.md)
        from serl_sim.tasks.bin_relocation import BinRelocationTask
        actor_params += (('task', args['task']), ('ground_truth_success', True),
                         ('workspace_min', [float(v) for v in BinRelocationTask.workspace_min]),
                         ('workspace_max', [float(v) for v in BinRelocationTask.workspace_max]))
    else:
        actor_params += (('object_pose', False),)
    nodes.append(NodeSpec('serl_agent', 'actor_node', 'actor_node', parameter_files=agent_yaml,
                          parameters=actor_params, required=True))
    if not _flag(args.get('learner', 'true')):
        return nodes
    for d in directions:
        params = (('run_dir', str(run_dir / d)),)
        if demos:
            params += (('demo_paths', [str(Path(p) / d) for p in demos]),)
        nodes.append(NodeSpec(
            'serl_agent', 'learner_node', 'learner_node', parameter_files=agent_yaml,
            parameters=params,
            remappings=tuple((f'/serl/{t}', f'/serl/{d}/{t}') for t in LEARNER_TOPICS),
            required=True, respawn=True, respawn_delay=2.0, namespace=d))
    return nodes


def _reward_nodes(args: Mapping[str, str], config_dir: Path, robot: str,
                  demos: List[str]) -> List[NodeSpec]:
    """
    Return the reward nodes for ``reward:=classifier`` or ``vice`` (none for ground_truth).

    ``vice`` adds ``config/reward_vice.yaml`` (VICE updates and label queries), the demos as the
    success examples, and the run directory's files for the updated classifier and the
    answered queries; in sim the label server answers the queries from the sim's ground truth.
    """
    reward = args['reward']
    if reward == 'ground_truth':
        return []
    files = (str(config_dir / 'reward.yaml'),)
    params = (('model_path', args['reward_model']),)
    if reward == 'vice':
        if not demos:
            raise ValueError('reward:=vice needs demos:=<bags> (their success frames are the '
                             "classifier's success examples)")
        run_dir = Path(args['run_dir'])
        files += (str(config_dir / 'reward_vice.yaml'),)
        params += (('vice_success_data', demos),
                   ('vice_model_path', str(run_dir / 'reward_vice.pt')),
                   ('labels_path', str(run_dir / 'reward_labels.npz')))
    nodes = [NodeSpec('serl_reward', 'reward_node', 'reward_node', parameter_files=files,
                      parameters=params, required=True)]
    if reward == 'vice' and robot == 'sim':
        nodes.append(NodeSpec('serl_reward', 'label_server_node', 'label_server_node',
                              parameter_files=(str(config_dir / 'reward_vice.yaml'),),
                              required=True))
    return nodes


def _teleop_nodes(teleop: str, config_dir: Path) -> List[NodeSpec]:
    """Return the serl_teleop node for ``teleop`` keyboard, spacemouse or gamepad, else none."""
    if teleop not in ('keyboard', 'spacemouse', 'gamepad'):
        return []
    return [NodeSpec('serl_teleop', 'teleop_node', 'teleop_node',
                     parameter_files=(str(config_dir / 'teleop.yaml'),),
                     parameters=(('input', teleop),), required=True)]


def _sim_node(args: Mapping[str, str], config_dir: Path) -> NodeSpec:
    return NodeSpec('serl_sim', 'sim_node', 'sim_node',
                    parameter_files=(str(config_dir / 'sim.yaml'),),
                    parameters=(('task', args['task']), ('headless', _flag(args['headless']))),
                    required=True)


def _build_sim(args: Mapping[str, str], config_dir: Path) -> List[NodeSpec]:
    nodes = [_sim_node(args, config_dir), _controller(config_dir, simulated=True)]
    if _flag(args['agent']):
        nodes += _agent_nodes(args, config_dir, robot='sim')
    if _flag(args['rviz']):
        nodes += _viz_nodes(config_dir)
    return _with_params_file(nodes, args)


def _camera_relays(args: Mapping[str, str], config_dir: Path) -> List[NodeSpec]:
    """One ``serl_camera_relay`` per ``<name>_camera:=<driver topic>`` argument given."""
    return [NodeSpec('serl_bringup', 'serl_camera_relay', f'camera_relay_{name}',
                     parameter_files=(str(config_dir / 'cameras.yaml'),),
                     parameters=(('name', name), ('input_topic', args[f'{name}_camera'])),
                     required=True)
            for name in CAMERA_NAMES if args.get(f'{name}_camera')]


def _build_real(args: Mapping[str, str], config_dir: Path) -> List[NodeSpec]:
    nodes = [_controller(config_dir, simulated=False)]
    nodes += _camera_relays(args, config_dir)
    nodes += _agent_nodes(args, config_dir, robot='real')
    if _flag(args['rviz']):
        nodes += _viz_nodes(config_dir)
    return _with_params_file(nodes, args)


def _build_record_demos(args: Mapping[str, str], config_dir: Path) -> List[NodeSpec]:
    robot, teleop = args['robot'], args['teleop']
    if robot == 'real' and teleop == 'none':
        raise ValueError('record_demos robot:=real needs a person: teleop:=keyboard, '
                         'spacemouse or external (the scripted expert runs in sim only)')
    # the scripted expert keeps holding the cube after the first success, so the demos hold
    # the success state as HIL-SERL's success frames do (the reward classifier needs them:
    # docs/reward.md); a person ends an episode with the success button
    scripted = args['scripted']
    hold = _hold_steps(args['hold_success']) if teleop == 'none' and scripted == 'expert' else 0
    direction = args.get('direction', '')
    if robot == 'sim':
        nodes = [_sim_node(args, config_dir), _controller(config_dir, simulated=True)]
    else:
        nodes = [_controller(config_dir, simulated=False)]
    # sim: ground-truth reward; real: reward 0, the operator's success button labels episodes
    nodes.append(NodeSpec('serl_agent', 'actor_node', 'actor_node',
                          parameter_files=(str(config_dir / 'agent_nodes.yaml'),),
                          parameters=(('policy', scripted if teleop == 'none' else 'teleop'),
                                      ('reward_source',
                                       'ground_truth' if robot == 'sim' else 'none'),
                                      ('robot', robot), ('task', args['task']),
                                      ('max_episodes', int(args['episodes'])),
                                      ('success_hold_steps', hold))
                          + ((('object_pose', False),) if robot == 'real' else ())
                          + ((('directions', [direction]),) if direction else ())
                          + _cameras(args),
                          required=True))
    nodes += _teleop_nodes(teleop, config_dir)
    recorder = (('output', args['output']), ('success_hold_steps', hold))
    remaps = ()
    if direction:   # the actor's transitions of one direction go to /serl/<direction>/
        recorder += (('topics', [f'/serl/{direction}/transitions']),)
        remaps = (('/serl/transition_ack', f'/serl/{direction}/transition_ack'),)
    nodes.append(NodeSpec('serl_agent', 'demo_recorder', 'demo_recorder',
                          parameter_files=(str(config_dir / 'demos.yaml'),),
                          parameters=recorder, remappings=remaps, required=True))
    if _flag(args['rviz']):
        nodes += _viz_nodes(config_dir)
    return _with_params_file(nodes, args)


def _hold_steps(value: str) -> int:
    """Parse ``hold_success`` (an integer >= 0); ValueError names the argument."""
    try:
        steps = int(value)
    except ValueError:
        steps = -1
    if steps < 0:
        raise ValueError(f'hold_success:={value!r}: expected an integer >= 0 (steps)')
    return steps


def _cameras(args: Mapping[str, str]) -> Tuple[Tuple[str, ParameterValue], ...]:
    """Actor ``image_keys`` from the ``cameras`` argument (comma-separated; '' keeps config)."""
    cameras = [c for c in args.get('cameras', '').split(',') if c]
    return (('image_keys', cameras),) if cameras else ()


_TASK_ARGS = (
    Argument('task', 'PandaPickCube-v0', 'simulated task', TASKS),
    Argument('headless', 'true', 'run the simulator without a viewer window', BOOL),
)

GRAPHS: Dict[str, Graph] = {
    'sim': Graph(
        'sim', 'MuJoCo FR3 with the controller, reward, actor and learner nodes',
        _TASK_ARGS + _ROBOT_ARGS + _AGENT_ARGS + (
            Argument('agent', 'true', 'start reward, actor and learner (false: robot only)',
                     BOOL),
            Argument('learner', 'true', 'start the learner (false: the actor acts with a '
                     'saved policy, its policy_file parameter; serl_eval)', BOOL),
            _PARAMS_ARG),
        _build_sim),
    'real': Graph(
        'real', 'the FR3 under franka_ros2 with the controller, reward, actor and learner nodes',
        _ROBOT_ARGS + _AGENT_ARGS + (
            Argument('learner', 'true', 'start the learner (false: the actor acts with a '
                     'saved policy, its policy_file parameter; serl_eval)', BOOL),
            Argument('front_camera', '', "the front camera driver's image topic (rgb8 or "
                     'bgr8, e.g. /camera/camera/color/image_raw): cropped and resized to the '
                     "sim's frames on /cameras/front/image_raw by serl_camera_relay; '': "
                     'published there already'),
            Argument('wrist_camera', '', "the wrist camera driver's image topic, relayed to "
                     "/cameras/wrist/image_raw likewise; '': published there already"),
            _PARAMS_ARG), _build_real),
    'record_demos': Graph(
        'record_demos', 'the scripted expert (sim) or a person (teleop) drives the arm; '
        'transitions are recorded to a bag',
        _TASK_ARGS + _ROBOT_ARGS + (
            Argument('robot', 'sim', 'sim: the MuJoCo FR3; real: the FR3 under franka_ros2 '
                     '(needs teleop)', ('sim', 'real')),
            Argument('teleop', 'none', 'who acts: none = the scripted expert (sim); keyboard '
                     '/ spacemouse / gamepad = the serl_teleop node (keyboard: this '
                     'terminal); external = a teleop publisher started elsewhere '
                     '(docs/teleop.md)',
                     ('none', 'keyboard', 'spacemouse', 'gamepad', 'external')),
            Argument('scripted', 'expert', 'the scripted policy of teleop:=none (sim): expert '
                     '= the task expert (demonstrations); explore = the workspace explorer '
                     '(failure frames for the reward classifier, serl_sim.explorer)',
                     ('expert', 'explore')),
            Argument('episodes', '20', 'number of demonstration episodes to record'),
            Argument('hold_success', '20', 'steps the scripted expert keeps holding the cube '
                     'after the first success (recorded, terminal success transitions); '
                     'teleop demos end at the success button'),
            Argument('output', 'bags/demos', 'output bag directory (MCAP)'),
            Argument('cameras', '', 'cameras the recorded observations carry besides the state, '
                     "comma-separated (e.g. front,wrist); '': config/agent_nodes.yaml"),
            Argument('direction', '', 'forward-backward tasks: the direction recorded (every '
                     "episode starts in it; the scripted expert is that direction's); '': the "
                     "task's one direction", ('', 'forward', 'backward')),
            _PARAMS_ARG,
        ),
        _build_record_demos),
}


def get_graph(name: str) -> Graph:
    """
    Return the graph called ``name``.

    :raises KeyError: naming the graphs there are, when ``name`` is not one of them.

    """
    try:
        return GRAPHS[name]
    except KeyError:
        raise KeyError(f"no graph '{name}'; graphs: {', '.join(GRAPHS)}") from None


def default_config_dir() -> Path:
    """
    Return the project's ``config/`` directory.

    ``$SERL_ROOT/config`` when ``SERL_ROOT`` is set (``env.sh`` sets it), else the ``config/``
    directory found by walking up from this file (a ``--symlink-install`` build).

    :raises FileNotFoundError: when neither exists.

    """
    import os
    root = os.environ.get('SERL_ROOT')
    if root and (Path(root) / 'config').is_dir():
        return Path(root) / 'config'
    for parent in Path(__file__).resolve().parents:
        if (parent / 'config').is_dir() and (parent / 'launch').is_dir():
            return parent / 'config'
    raise FileNotFoundError('cannot find the serl-ros2 config/ directory: set SERL_ROOT')
