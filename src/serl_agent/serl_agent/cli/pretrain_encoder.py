"""
Pretrain the frozen image encoders on recorded episodes: ``serl_pretrain_encoder``.

One spatial-softmax encoder per camera, written to one file (``serl_agent.vision.image_features``)
that the learner, the actor, ``serl_train_gym --image-encoder`` and ``serl_eval`` load. Two
objectives:

- ``bc`` (default): behaviour cloning of the successful episodes' actions from the cameras and
  proprioception (``serl_agent.vision.bc_pretraining``); the demos the user recorded anyway.
- ``reconstruction``: a deep spatial autoencoder (Finn et al. 2016) on every frame of the bags
  (demos and failures alike); no actions used.

    serl_pretrain_encoder runs/pick_cube_vision/demos --cameras front wrist --output x.pt
"""

import argparse
import contextlib
from pathlib import Path
import sys
import time
from typing import Dict, List, Sequence

import numpy as np
from serl_agent.data.bag_io import BagError
from serl_agent.runtime.threads import set_torch_threads


def read_frames(bags: Sequence[str], cameras: Sequence[str]) -> Dict[str, np.ndarray]:
    """
    Every frame of ``cameras`` in the bags' episodes, in recording order.

    Returns camera -> (N, H, W, 3) uint8. Raises ``ValueError`` naming a camera that no
    transition holds or whose frames change size, ``BagError`` for a missing or corrupt bag.
    """
    from serl_agent.data.demo_buffer import read_episodes

    frames: Dict[str, List[np.ndarray]] = {c: [] for c in cameras}
    episodes = read_episodes(list(bags))
    for ep in episodes:
        for i, tr in enumerate(ep.transitions):
            views = [tr['observation']]
            if i == len(ep.transitions) - 1:
                views.append(tr['next_observation'])
            for obs in views:
                for camera in cameras:
                    if camera in obs:
                        frames[camera].append(np.asarray(obs[camera], np.uint8))
    out = {}
    for camera, images in frames.items():
        if not images:
            raise ValueError(f'no frames of camera {camera!r} in {list(bags)} '
                             f'({len(episodes)} episodes)')
        shapes = {im.shape for im in images}
        if len(shapes) != 1:
            raise ValueError(f'camera {camera!r}: frames of several sizes {sorted(shapes)}')
        out[camera] = np.stack(images)
    return out


def read_demo_steps(bags: Sequence[str], cameras: Sequence[str],
                    proprio_keys: Sequence[str]) -> Dict[str, np.ndarray]:
    """
    Read the steps of the bags' successful episodes: camera frames, proprioception, actions.

    Returns ``{camera: (N, H, W, 3) uint8, 'proprio': (N, P) float32 (``proprio_keys`` in
    order, concatenated), 'actions': (N, A) float32}``. Raises ``ValueError`` when no
    successful episode holds every camera and key, ``BagError`` for a missing or corrupt bag.
    """
    from serl_agent.data.demo_buffer import read_episodes

    episodes = [ep for ep in read_episodes(list(bags)) if ep.success]
    rows = {c: [] for c in cameras}
    proprio, actions = [], []
    for ep in episodes:
        for tr in ep.transitions:
            obs = tr['observation']
            missing = [k for k in (*cameras, *proprio_keys) if k not in obs]
            if missing:
                raise ValueError(f'{ep.bags[0]}: observations lack {missing} (have '
                                 f'{sorted(obs)})')
            for c in cameras:
                rows[c].append(np.asarray(obs[c], np.uint8))
            proprio.append(np.concatenate([np.ravel(obs[k]) for k in proprio_keys]))
            actions.append(np.asarray(tr['action'], np.float32))
    if not actions:
        raise ValueError(f'no successful episode in {list(bags)} to clone')
    out = {c: np.stack(v) for c, v in rows.items()}
    out['proprio'] = np.asarray(proprio, np.float32)
    out['actions'] = np.asarray(actions, np.float32)
    return out


@contextlib.contextmanager
def progress_bar(steps: int, desc: str, loss_key: str, show: bool):
    """Yield ``(callback, last)``: a tqdm bar fed by a pretraining callback, its last metrics."""
    from tqdm import tqdm

    bar = tqdm(total=steps, disable=not show, unit='step', dynamic_ncols=True, desc=desc)
    last = {}

    def step(i, metrics):
        last.update(metrics)
        bar.update(1)
        if i % 50 == 0:
            bar.set_postfix(loss=f'{metrics[loss_key]:.4f}', refresh=False)

    try:
        yield step, last
    finally:
        bar.close()


def pretrain_by_cloning(steps_data: Dict[str, np.ndarray], cameras: Sequence[str], output,
                        steps: int = 2000, seed: int = 0, progress: bool = True) -> Path:
    """Behaviour-cloning pretraining of ``cameras``' encoders; write them to ``output``."""
    from serl_agent.vision.bc_pretraining import pretrain_by_behaviour_cloning
    from serl_agent.vision.image_features import save_encoders
    from serl_agent.vision.spatial_autoencoder import SpatialAutoencoderConfig

    with progress_bar(steps, 'encoders (behaviour cloning)', 'loss', progress) as (step, last):
        encoders = pretrain_by_behaviour_cloning(
            {c: steps_data[c] for c in cameras}, steps_data['proprio'], steps_data['actions'],
            SpatialAutoencoderConfig(steps=steps), seed=seed, callback=step)
    return save_encoders(output, encoders, {
        'objective': 'bc', 'steps': steps, 'seed': seed,
        'demo_steps': int(len(steps_data['actions'])), 'loss': last.get('loss')})


def pretrain_encoders(frames: Dict[str, np.ndarray], output, steps: int = 3000,
                      seed: int = 0, progress: bool = True) -> Path:
    """Fit one spatial autoencoder per camera of ``frames``; write the encoders to ``output``."""
    from serl_agent.vision.image_features import save_encoders
    from serl_agent.vision.spatial_autoencoder import pretrain, SpatialAutoencoderConfig

    encoders = {}
    metadata = {'objective': 'reconstruction', 'steps': steps, 'seed': seed, 'frames': {},
                'loss': {}}
    for camera, images in frames.items():
        config = SpatialAutoencoderConfig(steps=steps)
        bar = progress_bar(steps, f'encoder {camera}', 'reconstruction', progress)
        with bar as (step, last):
            encoders[camera] = pretrain(images, config, seed=seed, callback=step)
        metadata['frames'][camera] = int(len(images))
        metadata['loss'][camera] = last.get('reconstruction')
    return save_encoders(output, encoders, metadata)


def main(argv=None) -> int:
    """Command line entry point (console script ``serl_pretrain_encoder``)."""
    p = argparse.ArgumentParser(prog='serl_pretrain_encoder',
                                description=__doc__.strip().split('\n')[0])
    p.add_argument('bags', nargs='+', help='rosbag2 episode bags or directories of bags')
    p.add_argument('--cameras', nargs='+', default=['front', 'wrist'])
    p.add_argument('--objective', choices=('bc', 'reconstruction'), default='bc',
                   help="bc: clone the successful episodes' actions; reconstruction: a spatial "
                        'autoencoder per camera on every frame')
    p.add_argument('--proprio-keys', nargs='+', default=['gripper_width', 'tcp_pose', 'tcp_vel'],
                   help='bc: proprioception fed to the cloning head beside the cameras')
    p.add_argument('--output', required=True, help='encoder file to write')
    p.add_argument('--steps', type=int, default=2000,
                   help='Adam steps (reconstruction: per camera)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=None, help='default: physical cores')
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    set_torch_threads(args.threads)
    t0 = time.time()
    try:
        if args.objective == 'bc':
            frames = read_demo_steps(args.bags, args.cameras, args.proprio_keys)
            path = pretrain_by_cloning(frames, args.cameras, args.output, args.steps,
                                       args.seed, not args.no_progress)
        else:
            frames = read_frames(args.bags, args.cameras)
            path = pretrain_encoders(frames, args.output, args.steps, args.seed,
                                     not args.no_progress)
    except (ValueError, BagError) as exc:
        print(f'serl_pretrain_encoder: {exc}', file=sys.stderr)
        return 2
    counts = ' '.join(f'{c}_frames={len(frames[c])}' for c in args.cameras)
    print(f'output={path} {counts} seconds={time.time() - t0:.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
