"""
Evaluate a policy in a Gymnasium env (no ROS): success rate, episode length and return, video.

The Python API behind ``serl_train_gym``'s evaluations and ``serl_eval --no-ros``::

    from serl_agent.data.policy_io import load_policy_file
    from serl_agent.runtime.evaluation import evaluate_policy
    from serl_agent.runtime.video import VideoWriter
    import gymnasium as gym, serl_sim

    policy = load_policy_file('runs/pick_cube/policy.pt')
    env = gym.make('PandaPickCube-v0', max_episode_steps=50)
    result = evaluate_policy(policy, env, episodes=20, video=VideoWriter('eval.mp4'))

Episodes use the deterministic policy (tanh of the mean) from env seeds ``seed + i``; success is
the last step's ``info['succeed']`` (serl_sim) or ``info['success']``.
"""

from typing import Optional

import gymnasium as gym
import numpy as np
from serl_agent.runtime.episode_runner import success_of
from serl_agent.runtime.video import compose, VideoError, VideoWriter

#: Evaluation episode i starts from env seed EVAL_SEED + i (the same at every evaluation).
EVAL_SEED = 10_000_000


def _images(env: gym.Env, obs) -> dict:
    """Camera images of a step: the observation's, else the env's ``render()`` as 'front'."""
    images = {} if not isinstance(obs, dict) else {
        k: v for k, v in obs.items()
        if isinstance(v, np.ndarray) and v.dtype == np.uint8 and v.ndim == 3}
    if not images and env.render_mode == 'rgb_array':
        images = {'front': env.render()}
    return images


def evaluate_policy(policy, env: gym.Env, episodes: int = 20, seed: int = EVAL_SEED,
                    video: Optional[VideoWriter] = None) -> dict:
    """
    Run ``episodes`` deterministic episodes of ``policy`` in ``env``.

    ``policy``: anything with ``act(obs, deterministic)``, an agent or a ``networks.Policy``.

    With ``video``, every step's camera images (the observation's uint8 HxWx3 entries, else
    ``env.render()`` of an env made with ``render_mode='rgb_array'``) are written side by side
    with the episode, step, reward and outcome drawn on them.

    Returns ``{'episodes', 'success_rate', 'mean_length', 'mean_return', 'per_episode':
    [{'seed', 'steps', 'return', 'success'}]}``. Raises ``VideoError`` when a video is asked
    for and the observations carry no camera image.
    """
    per_episode = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done, total, steps, info, reward = False, 0.0, 0, {}, 0.0
        while not done:
            if video is not None:
                images = _images(env, obs)
                if not images:
                    name = env.spec.id if env.spec is not None else env
                    raise VideoError(f'{video.path}: {name} gives no camera image to film '
                                     f"(make it with render_mode='rgb_array')")
                video.add(compose(images, [f'episode {ep + 1}/{episodes} step {steps}',
                                           f'reward {reward:.2f}']))
            obs, reward, terminated, truncated, info = env.step(
                policy.act(obs, deterministic=True))
            total += float(reward)
            steps += 1
            done = terminated or truncated
        success = success_of(info)
        if video is not None:   # the last frame, with the outcome, held for a second
            last = compose(_images(env, obs), [f'episode {ep + 1}/{episodes} step {steps}',
                                               'SUCCESS' if success else 'failure'])
            for _ in range(int(round(video.fps))):
                video.add(last)
        per_episode.append({'seed': seed + ep, 'steps': steps, 'return': total,
                            'success': success})
    return summarize(per_episode)


def summarize(per_episode) -> dict:
    """
    Return ``{'episodes', 'success_rate', 'mean_length', 'mean_return', 'per_episode'}``.

    per_episode: dicts with ``steps``, ``return`` and ``success`` (at least one).
    """
    return {'episodes': len(per_episode),
            'success_rate': float(np.mean([e['success'] for e in per_episode])),
            'mean_length': float(np.mean([e['steps'] for e in per_episode])),
            'mean_return': float(np.mean([e['return'] for e in per_episode])),
            'per_episode': list(per_episode)}
