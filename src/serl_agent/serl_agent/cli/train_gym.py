"""
No-ROS training of any agent on any Gymnasium env: ``serl_train_gym --env Pendulum-v1 ...``.

The same core as the ROS learner (an agent of ``serl_agent.agents``, ``ReplayBuffer``,
``checkpoint``). ``--agent`` picks it (rlpd by default; sac, awac, bc); its settings come from
``config/agent_<agent>.yaml`` (rlpd: ``config/agent.yaml``). First the agent's offline phase on the
demos, if its config has one (AWAC, BC); then one loop: act, step the env, insert the transition
into the online buffer, ``agent.update`` (RLPD: G critic steps + one actor/temperature step,
batches 50/50 online/demo when demos are given). BC learns nothing online: its run ends with one
evaluation after the offline phase. Demos come from rosbag2 demo bags (``--demos``, read by
``serl_agent.data.demo_buffer``) or, for serl_sim envs, from the scripted expert
(``--expert-episodes``). An existing ``--run-dir`` is resumed from its latest checkpoint.
TensorBoard logs go to ``<run-dir>/tb``.
"""

import argparse
import contextlib
import json
from pathlib import Path
import signal
import sys
import threading
import time
from typing import Callable, List, Optional, Sequence

import gymnasium as gym
import numpy as np
from serl_agent.agents.base import Agent
from serl_agent.agents.config import AgentConfig
from serl_agent.agents.registry import agent_class, CONFIG_FILES, load_config, make_agent
from serl_agent.data import checkpoint
from serl_agent.data.replay import ReplayBuffer
from serl_agent.runtime.evaluation import EVAL_SEED, evaluate_policy
from serl_agent.runtime.threads import set_torch_threads
from serl_common.overrides import parse_overrides
import torch

CONFIG_DIR = Path(__file__).resolve().parents[4] / 'config'


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


@contextlib.contextmanager
def signals_deferred():
    """
    Hold Ctrl-C (SIGINT) and SIGTERM while the block runs, then raise ``KeyboardInterrupt``.

    A checkpoint interrupted inside ``torch.save`` fails with torch's own error instead of a
    clean stop; the interruption is delivered once the block is done. Outside the main thread
    (where Python delivers no signals) the block just runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt(f'signal {caught[0]}')


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


def evaluate(agent: Agent, env: gym.Env, episodes: int, seed: int = EVAL_SEED) -> dict:
    """
    Run ``episodes`` episodes of the deterministic policy from env seeds ``seed + i``.

    Returns ``{'return': mean undiscounted return, 'success': fraction of successful
    episodes, 'length': mean episode length}`` (``runtime.evaluation.evaluate_policy``).
    """
    result = evaluate_policy(agent, env, episodes, seed)
    return {'return': result['mean_return'], 'success': result['success_rate'],
            'length': result['mean_length']}


def train(env_id: str, steps: int, run_dir, config: Optional[AgentConfig] = None,
          seed: int = 0, device: str = 'cpu', demo_buffer: Optional[ReplayBuffer] = None,
          demo_factory: Optional[Callable[[gym.Env], ReplayBuffer]] = None,
          capacity: int = 1_000_000, learning_starts: Optional[int] = None,
          eval_every: int = 5000, eval_episodes: int = 5, checkpoint_every: int = 5000,
          target_return: Optional[float] = None, progress: bool = True,
          env_kwargs: Optional[dict] = None, agent_name: str = 'rlpd',
          target_success: Optional[float] = None, image_encoder=None) -> dict:
    """
    Train agent ``agent_name`` on ``env_id`` for ``steps`` env steps in total (with resumed).

    ``config`` is the agent's config (its class's defaults when None). ``demo_factory(env)``
    builds the demo buffer when the run starts fresh (a resumed run reads it from the
    checkpoint). The agent's offline phase (``config.offline_steps`` on the demos) runs first.
    Updates start after ``learning_starts`` env steps (default: the config's ``random_steps``
    without demos, else 0); until then actions are uniform random when there are no demos.
    Evaluations (``eval_episodes`` deterministic episodes from fixed seeds) run every
    ``eval_every`` env steps, and at step 0 when an offline phase ran. Stops early once an
    evaluation reaches ``target_return`` or ``target_success``. An agent that learns nothing
    online (BC) is evaluated once after its offline phase, with no env steps. With
    ``image_encoder`` (an encoder file of ``serl_agent.vision``), the env's camera images are
    replaced by their frozen features before the agent or any buffer sees them.

    Returns ``{'env_steps', 'episodes', 'evals': [(step, mean_return, success_rate)],
    'last_eval' (mean return), 'last_success', 'critic_updates', 'actor_updates',
    'offline_updates', 'run_dir', 'seconds'}``. Raises ``CheckpointError`` if the run dir
    holds a corrupt checkpoint, ``ValueError`` for an unknown agent or a config of another.
    """
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    config = config if config is not None else load_config(agent_name)
    run = checkpoint.open_run(run_dir)
    torch.manual_seed(seed)
    env = make_env(env_id, seed, **(env_kwargs or {}))
    eval_env = make_env(env_id, seed + 1, **(env_kwargs or {}))
    if image_encoder is not None:
        from serl_agent.vision.image_features import ImageFeatures, ImageFeaturesWrapper
        features = ImageFeatures.from_file(image_encoder)
        env, eval_env = ImageFeaturesWrapper(env, features), ImageFeaturesWrapper(eval_env,
                                                                                  features)
    agent = make_agent(agent_name, env.observation_space, env.action_space, config, device,
                       seed=seed)
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
    agent.observe_buffer(demo)   # normalisation statistics (a resumed run restores its own)
    restored = checkpoint.load(run, agent, buffers)
    counters = {'env_steps': 0, 'episodes': 0,
                'demo_capacity': demo.capacity if demo is not None else 0}
    evals: List = []
    if restored is not None:
        counters.update(restored['counters'])
        evals = [tuple(e) for e in restored['extra'].get('evals', [])]
    if learning_starts is None:
        learning_starts = 0 if demo is not None else getattr(config, 'random_steps', 0)

    writer = SummaryWriter(str(run / 'tb'))
    start_steps, t0 = counters['env_steps'], time.time()
    last = {'return': evals[-1][1] if evals else None,
            'success': evals[-1][2] if evals and len(evals[-1]) > 2 else None}

    def save():
        with signals_deferred():
            checkpoint.save(run, agent, buffers, counters, extra={'evals': evals})

    def run_evaluation(step):
        result = evaluate(agent, eval_env, eval_episodes)
        last.update(result)
        evals.append((step, result['return'], result['success']))
        writer.add_scalar('eval/return', result['return'], step)
        writer.add_scalar('eval/success', result['success'], step)

    def reached():
        return ((target_return is not None and last['return'] is not None
                 and last['return'] >= target_return)
                or (target_success is not None and last['success'] is not None
                    and last['success'] >= target_success))

    bar = tqdm(total=steps, initial=start_steps, disable=not progress, unit='step',
               dynamic_ncols=True, desc=env_id)
    obs, _ = env.reset(seed=seed + counters['episodes'])
    episode_return, episode_len = 0.0, 0
    start_offline = agent.offline_updates
    try:
        if demo is not None and len(demo) and agent.offline_steps_left:
            offline_phase(agent, demo, writer, progress, agent_name)
            save()
            if eval_episodes and (eval_every or not agent.learns_online):
                run_evaluation(counters['env_steps'])
        while agent.learns_online and counters['env_steps'] < steps and not reached():
            step = counters['env_steps']
            if demo is None and step < learning_starts:
                action = env.action_space.sample().astype(np.float32)
            else:
                action = agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            online.insert(obs, action, reward, next_obs, terminated, truncated)
            agent.observe(obs)
            counters['env_steps'] = step = step + 1
            episode_return += float(reward)
            episode_len += 1
            obs = next_obs
            if terminated or truncated:
                counters['episodes'] += 1
                writer.add_scalar('train/episode_return', episode_return, step)
                writer.add_scalar('train/episode_length', episode_len, step)
                bar.set_postfix(ret=f'{episode_return:.1f}', eval=last['return'],
                                refresh=False)
                obs, _ = env.reset(seed=seed + counters['episodes'])
                episode_return, episode_len = 0.0, 0
            if step >= learning_starts:
                metrics = agent.update(online, demo)
                if step % 100 == 0:
                    for k, v in metrics.items():
                        writer.add_scalar(f'learner/{k}', v, step)
            if eval_every and step % eval_every == 0:
                run_evaluation(step)
            if checkpoint_every and step % checkpoint_every == 0:
                save()
            bar.update(1)
    finally:
        if counters['env_steps'] > start_steps or agent.offline_updates > start_offline:
            save()
        bar.close()
        writer.close()
        env.close()
        eval_env.close()
    return {'env_steps': counters['env_steps'], 'episodes': counters['episodes'],
            'evals': evals, 'last_eval': last['return'], 'last_success': last['success'],
            'critic_updates': agent.critic_updates, 'actor_updates': agent.actor_updates,
            'offline_updates': agent.offline_updates, 'run_dir': str(run),
            'seconds': time.time() - t0}


def offline_phase(agent: Agent, demo: ReplayBuffer, writer, progress: bool, label: str):
    """Run the agent's offline phase on ``demo`` with a progress bar; log every 100 steps."""
    from tqdm import tqdm

    bar = tqdm(total=agent.offline_steps_left, disable=not progress, unit='step',
               dynamic_ncols=True, desc=f'{label} offline phase')

    def on_step(metrics):
        bar.update(1)
        if agent.offline_updates % 100 == 0:
            for k, v in metrics.items():
                writer.add_scalar(f'offline/{k}', v, agent.offline_updates)

    try:
        agent.pretrain(demo, callback=on_step)
    finally:
        bar.close()


def _peek_counters(run) -> dict:
    manifest_path = checkpoint.checkpoint_dir(run) / checkpoint.LATEST
    if not manifest_path.exists():
        return {}
    return dict(json.loads(manifest_path.read_text(encoding='utf-8')).get('counters', {}))


def demo_factory(demos: Sequence[str] = (), expert_episodes: int = 0,
                 prior: Sequence[str] = (), seed: int = 0
                 ) -> Optional[Callable[[gym.Env], ReplayBuffer]]:
    """
    Return a function env -> prior buffer of the demo bags (or expert episodes) and ``prior``.

    None when there is no prior data. Raises ``ValueError`` for a ``prior`` path that does not
    exist (checked now, before any env is made); the factory raises
    ``serl_agent.data.prior_data.PriorDataError`` for one with no transitions or transitions
    that do not fit the env.
    """
    from serl_agent.data.prior_data import check_paths, load_prior_buffer
    check_paths(prior)
    if not demos and expert_episodes <= 0 and not prior:
        return None

    def factory(env):
        parts = []
        if demos:
            from serl_agent.data.demo_buffer import load_demo_buffer
            parts.append(load_demo_buffer(demos, env.observation_space, env.action_space))
        elif expert_episodes > 0:
            parts.append(expert_demos(env, expert_episodes, seed))
        if prior:
            parts.append(load_prior_buffer(prior, env.observation_space, env.action_space))
        return parts[0] if len(parts) == 1 else ReplayBuffer.concatenate(parts)
    return factory


def main(argv=None) -> int:
    """Command line entry point (console script ``serl_train_gym``)."""
    p = argparse.ArgumentParser(prog='serl_train_gym',
                                description=__doc__.strip().split('\n')[0])
    p.add_argument('--env', required=True, help='Gymnasium env id, e.g. Pendulum-v1')
    p.add_argument('--steps', type=int, required=True, help='total env steps')
    p.add_argument('--run-dir', required=True, help='created, or resumed when it exists')
    p.add_argument('--agent', default='rlpd', choices=sorted(CONFIG_FILES),
                   help='the algorithm (default rlpd)')
    p.add_argument('--config', default=None,
                   help='YAML with a section named after the agent (default: the repository '
                        'config/agent_<agent>.yaml, rlpd: config/agent.yaml, when present, '
                        'else the same defaults)')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                   help='override fields of the agent config, e.g. --set utd_ratio=2 '
                        'num_critics=5')
    p.add_argument('--demos', nargs='*', default=[], help='rosbag2 demo bags (dirs)')
    p.add_argument('--prior', nargs='*', default=[], metavar='PATH',
                   help='more prior data, beside the demos: earlier runs (a learner run dir '
                        'with transitions.spool, a serl_train_gym run dir, or directories of '
                        'bags), successes and failures alike')
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
    p.add_argument('--target-success', type=float, default=None,
                   help='stop once an evaluation success rate reaches it')
    p.add_argument('--image-encoder', default=None, metavar='FILE',
                   help='frozen image encoder file (serl_pretrain_encoder): the camera images '
                        'are replaced by their features')
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)

    set_torch_threads(args.threads)
    default_config = CONFIG_DIR / CONFIG_FILES[args.agent]
    config_path = args.config or (default_config if default_config.exists() else None)
    try:
        overrides = parse_overrides(args.set)
        config = load_config(args.agent, config_path, **overrides)
        factory = demo_factory(args.demos, args.expert_episodes, args.prior, args.seed)
        if factory is None and agent_class(args.agent).learns_online is False:
            raise ValueError(f'agent {args.agent} learns from demos only: give --demos, '
                             f'--expert-episodes or --prior')
    except ValueError as e:
        print(f'serl_train_gym: {e}', file=sys.stderr)
        return 2

    def stop(signum, frame):
        raise KeyboardInterrupt(f'signal {signum}')

    signal.signal(signal.SIGTERM, stop)  # a kill saves a checkpoint like Ctrl-C does
    try:
        result = _run(args, config, factory)
    except KeyboardInterrupt:
        latest = checkpoint.latest_checkpoint(args.run_dir)
        print(f'interrupted; latest checkpoint: {latest}', file=sys.stderr)
        return 130
    last, success = result['last_eval'], result['last_success']
    print(f'agent={args.agent} env_steps={result["env_steps"]} episodes={result["episodes"]} '
          f'eval_return={"nan" if last is None else f"{last:.1f}"} '
          f'eval_success={"nan" if success is None else f"{success:.2f}"} '
          f'seconds={result["seconds"]:.1f} run_dir={result["run_dir"]}')
    return 0


def _run(args, config, factory):
    return train(args.env, args.steps, args.run_dir, config, seed=args.seed,
                 device=args.device, demo_factory=factory, capacity=args.capacity,
                 learning_starts=args.learning_starts, eval_every=args.eval_every,
                 eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
                 target_return=args.target_return, progress=not args.no_progress,
                 agent_name=args.agent, target_success=args.target_success,
                 image_encoder=args.image_encoder)


if __name__ == '__main__':
    sys.exit(main())
