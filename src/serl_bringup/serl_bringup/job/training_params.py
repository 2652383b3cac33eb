"""
Step 3's configuration: the training graph's ``serl_launch`` arguments and parameter files.

The agent config with the job's overrides (reward scale, ``--precision``, ``--agent-set``), the
actor's, learner's, sim's and reward node's parameters, all written into the run directory so a
resumed run reads what it started with.
"""

from pathlib import Path
from typing import List, Optional

from serl_bringup.job.common import config_dir, SIM_STATE_TIMEOUT, write_yaml
from serl_bringup.recipes import REWARD_SCALES, TASKS
import yaml


def smoke_agent_config(run_dir: Path, agent: str) -> Path:
    """Write the tiny-network config of the smoke run for ``agent``."""
    tiny = {'batch_size': 16, 'hidden_dims': [32, 32]}
    if agent != 'bc':
        tiny.update(num_critics=2, utd_ratio=2)
    if agent in ('awac', 'bc'):
        tiny.update(offline_steps=20)
    return write_yaml(run_dir / f'{agent}_smoke.yaml', {agent: tiny})


def training_graph_argv(args, run_dir: Path, demos: str, model: Optional[Path],
                        encoder: Optional[Path] = None) -> List[str]:
    """Return the ``serl_launch`` arguments of the training graph (writes its parameters)."""
    params = training_params(args, run_dir, encoder)
    argv = ['sim', f'task:={args.task}', f'reward:={args.reward}', f'demos:={demos}',
            f'run_dir:={run_dir}', f'params_file:={params}',
            f'teleop:={args.teleop}', f'viz:={str(args.viz).lower()}']
    if model is not None:
        argv.append(f'reward_model:={model}')
    return argv


def agent_overrides(args) -> dict:
    """
    Return the agent config fields the job replaces.

    In order, a later one winning: the task's (its recipe's ``agent``, only over the default
    config/agent_pick_cube.yaml), the reward form's, ``--precision``, ``--agent-set``.
    """
    overrides = {} if args.agent_config else dict(TASKS[args.task].agent.get(args.agent, {}))
    overrides.update(REWARD_SCALES[args.reward_scale].agent)
    if args.precision:
        overrides['precision'] = args.precision
    overrides.update(args.agent_overrides)   # the user's last: they win
    return overrides


def agent_settings_error(args) -> Optional[str]:
    """Return why the agent's settings with the job's overrides are refused, or None."""
    from serl_agent.agents.registry import load_config
    path = args.agent_config or str(config_dir() / 'agent_pick_cube.yaml')
    try:
        load_config(args.agent, path, **agent_overrides(args))
    except (TypeError, ValueError) as error:
        return str(error)
    return None


def training_params(args, run_dir: Path, encoder: Optional[Path] = None) -> Path:
    """Write the parameter overrides of the training graph (``params_train.yaml``)."""
    recipe = TASKS[args.task]
    agent_config = args.agent_config or str(config_dir() / 'agent_pick_cube.yaml')
    if args.smoke:
        agent_config = str(smoke_agent_config(run_dir, args.agent))
    scale = REWARD_SCALES[args.reward_scale]
    overrides = agent_overrides(args)
    if overrides:   # the chosen config with these fields replaced
        data = yaml.safe_load(Path(agent_config).read_text()) or {}
        data.setdefault(args.agent, {}).update(overrides)
        agent_config = str(write_yaml(run_dir / f'{args.agent}_config.yaml', data))
    actor = {'eval_every': args.eval_every, 'eval_episodes': args.eval_episodes,
             'seed': args.seed * 100000, 'spool_dir': str(run_dir / 'actor_spool'),
             'state_timeout': SIM_STATE_TIMEOUT, 'max_episode_steps': args.episode_steps,
             # success counted by the sim (the classifier's reward still ends episodes)
             'ground_truth_success': True}
    actor.update(scale.actor)
    if recipe.cameras:
        actor.update(image_keys=list(recipe.cameras))
    if not recipe.object_pose:
        actor.update(object_pose=False)
    learner = {'observation_keys': list(recipe.observation_keys), 'agent': args.agent,
               'agent_config': str(Path(agent_config).resolve()), 'seed': args.seed,
               'prior_paths': [str(Path(p).resolve()) for p in args.prior] or ['']}
    if encoder is not None:
        actor.update(image_encoder=str(encoder))
        learner.update(image_encoder=str(encoder))
    if args.smoke:
        actor.update(max_episode_steps=30, drain_timeout=5.0)
        learner.update(training_starts=20, publish_every=2, checkpoint_every=10.0)
    # forward-backward: one learner per direction, namespaced (graph.directions_of)
    learner_key = '/**/learner_node' if recipe.directions else 'learner_node'
    params = {
        'actor_node': {'ros__parameters': actor},
        learner_key: {'ros__parameters': learner},
        'sim_node': {'ros__parameters': {'seed': args.seed}},
    }
    reward_node = {}
    if scale.node_mode != 'sparse':
        reward_node['mode'] = scale.node_mode
    if args.smoke and args.reward == 'vice':
        # a query a second about any frame, a VICE round every 5 frame sets: the smoke run
        # sees both loops close within its few hundred steps
        reward_node.update(query_interval=1.0, query_min_probability=0.0,
                           vice_update_interval=5)
    if reward_node:
        reward_key = '/**/reward_node' if recipe.directions else 'reward_node'
        params[reward_key] = {'ros__parameters': reward_node}
    return write_yaml(run_dir / 'params_train.yaml', params)
