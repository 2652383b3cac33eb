"""
No-ROS RLPD training on any Gymnasium env: ``serl_train_gym --env Pendulum-v1 ...``.

The same core as the ROS learner (``RLPDAgent``, ``ReplayBuffer``, ``checkpoint``), in one loop:
act, step the env, insert the transition into the online buffer, ``agent.update`` (G critic
steps + one actor/temperature step, batches 50/50 online/demo when demos are given). Demos come
from rosbag2 demo bags (``--demos``, read by ``serl_agent.data.demo_buffer``) or, for
serl_sim envs, from the scripted expert (``--expert-episodes``). An existing ``--run-dir`` is resumed from its
latest checkpoint. TensorBoard logs go to ``<run-dir>/tb``.
"""

import argparse
import json
from pathlib import Path
import signal
import sys
import time
from typing import Callable, List, Optional, Sequence

import gymnasium as gym
import numpy as np
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.data import checkpoint
from serl_agent.data.replay import ReplayBuffer
from serl_agent.runtime.threads import set_torch_threads
import torch
import yaml

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / 'config' / 'agent.yaml'


class NormalizedActions(gym.ActionWrapper):
    """Expose a bounded Box action space as float32 [-1, 1]; a -> low + (a + 1)(high - low)/2."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._low = env.action_space.low.astype(np.float64)
        self._high = env.action_space.high.astype(np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, env.action_space.shape, np.float32)

    def action(self, action):
        """Map a normalised action in [-1, 1] to the env's bounds (clipped first)."""
        a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        return (self._low + (a + 1.0) * 0.5 * (self._high - self._low)).astype(
            self.env.action_space.dtype)


def make_env(env_id: str, seed: Optional[int] = None, **kwargs) -> gym.Env:
    """
    Make a Gymnasium env with actions rescaled to [-1, 1] (the agent's convention).

    serl_sim env ids (``PandaPickCube-v0`` ...) are registered by importing serl_sim on demand.
    Raises ``ValueError`` for a non-Box action space.
    """
    try:
        env = gym.make(env_id, **kwargs)
    except gym.error.Error:
        import serl_sim  # noqa: F401 - registers the serl_sim envs
        env = gym.make(env_id, **kwargs)
    space = env.action_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f'{env_id}: RLPD needs a 1-D Box action space, got {space!r}')
    if not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(f'{env_id}: unbounded action space {space!r}')
        env = NormalizedActions(env)
    if seed is not None:
        env.action_space.seed(seed)
    return env


def expert_demos(env: gym.Env, episodes: int, seed: int,
                 capacity: Optional[int] = None) -> ReplayBuffer:
    """
    Fill a demo buffer with ``episodes`` rollouts of ``serl_sim.experts.make_expert(env)``.

    Capacity defaults to ``episodes`` x the env's ``max_episode_steps`` (1000 if unset).
    """
    from serl_sim.experts import make_expert

    if capacity is None:
        spec = getattr(env, 'spec', None)
        capacity = episodes * ((spec.max_episode_steps if spec else None) or 1000)
    buf = ReplayBuffer(env.observation_space, env.action_space, capacity)
    expert = make_expert(env)
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + 10_000 + ep)
        done = False
        while not done:
            action = np.clip(np.asarray(expert(obs), np.float32), -1.0, 1.0)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            buf.insert(obs, action, reward, next_obs, terminated, truncated)
            obs, done = next_obs, terminated or truncated
    return buf


def evaluate(agent: RLPDAgent, env: gym.Env, episodes: int, seed: int) -> float:
    """Mean undiscounted return of the deterministic policy over ``episodes`` episodes."""
    returns = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, deterministic=True))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def train(env_id: str, steps: int, run_dir, config: Optional[RLPDConfig] = None,
          seed: int = 0, device: str = 'cpu', demo_buffer: Optional[ReplayBuffer] = None,
          demo_factory: Optional[Callable[[gym.Env], ReplayBuffer]] = None,
          capacity: int = 1_000_000, learning_starts: Optional[int] = None,
          eval_every: int = 5000, eval_episodes: int = 5, checkpoint_every: int = 5000,
          target_return: Optional[float] = None, progress: bool = True,
          env_kwargs: Optional[dict] = None) -> dict:
    """
    Train RLPD on ``env_id`` for ``steps`` env steps in total (counting resumed ones).

    ``demo_factory(env)`` builds the demo buffer when the run starts fresh (a resumed run reads
    it from the checkpoint). Updates start after ``learning_starts`` env steps (default: the
    config's ``random_steps`` without demos, else 0); until then actions are uniform random
    when there are no demos. Stops early once an evaluation reaches ``target_return``.

    Returns ``{'env_steps', 'episodes', 'evals': [(step, mean_return)], 'last_eval',
    'run_dir', 'seconds'}``. Raises ``CheckpointError`` if the run dir holds a corrupt
    checkpoint.
    """
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    config = config if config is not None else RLPDConfig()
    run = checkpoint.open_run(run_dir)
    torch.manual_seed(seed)
    env = make_env(env_id, seed, **(env_kwargs or {}))
    eval_env = make_env(env_id, seed + 1, **(env_kwargs or {}))
    agent = RLPDAgent(env.observation_space, env.action_space, config, device, seed=seed)
    online = ReplayBuffer(env.observation_space, env.action_space, capacity)
    demo = demo_buffer
    saved_counters = _peek_counters(run)
    if saved_counters.get('demo_capacity'):
        # Resuming: the demo transitions come back from the checkpoint.
        demo = ReplayBuffer(env.observation_space, env.action_space,
                            int(saved_counters['demo_capacity']))
    elif demo is None and demo_factory is not None:
        demo = demo_factory(env)
    buffers = {'online': online}
    if demo is not None:
        buffers['demo'] = demo
    restored = checkpoint.load(run, agent, buffers)
    counters = {'env_steps': 0, 'episodes': 0,
                'demo_capacity': demo.capacity if demo is not None else 0}
    evals: List = []
    if restored is not None:
        counters.update(restored['counters'])
        evals = [tuple(e) for e in restored['extra'].get('evals', [])]
    if learning_starts is None:
        learning_starts = 0 if demo is not None else config.random_steps

    writer = SummaryWriter(str(run / 'tb'))
    start_steps, t0 = counters['env_steps'], time.time()
    bar = tqdm(total=steps, initial=start_steps, disable=not progress, unit='step',
               dynamic_ncols=True, desc=env_id)
    obs, _ = env.reset(seed=seed + counters['episodes'])
    episode_return, episode_len, last_eval = 0.0, 0, (evals[-1][1] if evals else None)

    def save():
        checkpoint.save(run, agent, buffers, counters, extra={'evals': evals})

    try:
        while counters['env_steps'] < steps:
            step = counters['env_steps']
            if demo is None and step < learning_starts:
                action = env.action_space.sample().astype(np.float32)
            else:
                action = agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            online.insert(obs, action, reward, next_obs, terminated, truncated)
            counters['env_steps'] = step = step + 1
            episode_return += float(reward)
            episode_len += 1
            obs = next_obs
            if terminated or truncated:
                counters['episodes'] += 1
                writer.add_scalar('train/episode_return', episode_return, step)
                writer.add_scalar('train/episode_length', episode_len, step)
                bar.set_postfix(ret=f'{episode_return:.1f}', eval=last_eval, refresh=False)
                obs, _ = env.reset(seed=seed + counters['episodes'])
                episode_return, episode_len = 0.0, 0
            if step >= learning_starts:
                metrics = agent.update(online, demo)
                if step % 100 == 0:
                    for k, v in metrics.items():
                        writer.add_scalar(f'learner/{k}', v, step)
            if eval_every and step % eval_every == 0:
                last_eval = evaluate(agent, eval_env, eval_episodes, seed=10_000_000 + step)
                evals.append((step, last_eval))
                writer.add_scalar('eval/return', last_eval, step)
            if checkpoint_every and step % checkpoint_every == 0:
                save()
            bar.update(1)
            if target_return is not None and last_eval is not None and \
                    last_eval >= target_return:
                break
    finally:
        if counters['env_steps'] > start_steps:
            save()
        bar.close()
        writer.close()
        env.close()
        eval_env.close()
    return {'env_steps': counters['env_steps'], 'episodes': counters['episodes'],
            'evals': evals, 'last_eval': last_eval, 'run_dir': str(run),
            'seconds': time.time() - t0}


def _peek_counters(run) -> dict:
    manifest_path = checkpoint.checkpoint_dir(run) / checkpoint.LATEST
    if not manifest_path.exists():
        return {}
    return dict(json.loads(manifest_path.read_text(encoding='utf-8')).get('counters', {}))


def parse_overrides(items: Sequence[str]) -> dict:
    """``['utd_ratio=2', 'hidden_dims=[64, 64]']`` -> dict (values parsed as YAML)."""
    out = {}
    for item in items:
        if '=' not in item:
            raise ValueError(f'--set expects key=value, got {item!r}')
        key, value = item.split('=', 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def _bag_demos(paths):
    def factory(env):
        from serl_agent.data.demo_buffer import load_demo_buffer
        return load_demo_buffer(paths, env.observation_space, env.action_space)
    return factory


def _expert_demos(episodes, seed):
    def factory(env):
        return expert_demos(env, episodes, seed)
    return factory


def main(argv=None) -> int:
    """Command line entry point (console script ``serl_train_gym``)."""
    p = argparse.ArgumentParser(prog='serl_train_gym',
                                description=__doc__.strip().split('\n')[0])
    p.add_argument('--env', required=True, help='Gymnasium env id, e.g. Pendulum-v1')
    p.add_argument('--steps', type=int, required=True, help='total env steps')
    p.add_argument('--run-dir', required=True, help='created, or resumed when it exists')
    p.add_argument('--config', default=None,
                   help='YAML with an rlpd: section (default: config/agent.yaml of the repo '
                        'when present, else the same RLPDConfig defaults)')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                   help='override RLPDConfig fields, e.g. --set utd_ratio=2 num_critics=5')
    p.add_argument('--demos', nargs='*', default=[], help='rosbag2 demo bags (dirs)')
    p.add_argument('--expert-episodes', type=int, default=0,
                   help='demo episodes from serl_sim.experts (serl_sim envs)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=None, help='default: physical cores')
    p.add_argument('--capacity', type=int, default=1_000_000, help='online buffer capacity')
    p.add_argument('--learning-starts', type=int, default=None)
    p.add_argument('--eval-every', type=int, default=5000)
    p.add_argument('--eval-episodes', type=int, default=5)
    p.add_argument('--checkpoint-every', type=int, default=5000)
    p.add_argument('--target-return', type=float, default=None, help='stop once reached')
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)

    set_torch_threads(args.threads)
    overrides = parse_overrides(args.set)
    config_path = args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    config = (RLPDConfig.from_yaml(config_path, **overrides) if config_path
              else RLPDConfig.from_dict(overrides))
    factory = None
    if args.demos:
        factory = _bag_demos(args.demos)
    elif args.expert_episodes > 0:
        factory = _expert_demos(args.expert_episodes, args.seed)

    def stop(signum, frame):
        raise KeyboardInterrupt(f'signal {signum}')

    signal.signal(signal.SIGTERM, stop)  # a kill saves a checkpoint like Ctrl-C does
    try:
        result = _run(args, config, factory)
    except KeyboardInterrupt:
        latest = checkpoint.latest_checkpoint(args.run_dir)
        print(f'interrupted; latest checkpoint: {latest}', file=sys.stderr)
        return 130
    last = result['last_eval']
    print(f'env_steps={result["env_steps"]} episodes={result["episodes"]} '
          f'eval_return={"nan" if last is None else f"{last:.1f}"} '
          f'seconds={result["seconds"]:.1f} run_dir={result["run_dir"]}')
    return 0


def _run(args, config, factory):
    return train(args.env, args.steps, args.run_dir, config, seed=args.seed,
                 device=args.device, demo_factory=factory, capacity=args.capacity,
                 learning_starts=args.learning_starts, eval_every=args.eval_every,
                 eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
                 target_return=args.target_return, progress=not args.no_progress)


if __name__ == '__main__':
    sys.exit(main())
