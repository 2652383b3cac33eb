"""
Step 2 of ``serl_train``: the models trained before RL, each skipped when its file exists.

The success classifier (``serl_train_reward``; one per direction for a forward-backward task)
and, for a vision task, the frozen image encoder (``serl_pretrain_encoder``).
"""

from pathlib import Path
import subprocess
import sys
from typing import List, Optional

from serl_bringup.job.common import JobError, log
from serl_bringup.recipes import CAMERAS, direction_dir, directions_of, TASKS


def train_reward(args, run_dir: Path, demos: Path,
                 negatives: Optional[Path] = None) -> Optional[Path]:
    """Train the success classifier on the demo (and explorer) images (``serl_train_reward``)."""
    if args.reward == 'ground_truth':
        log('step 2/3 reward classifier: not needed (reward ground_truth)')
        return None
    if TASKS[args.task].directions:   # one classifier per direction: the graph's placeholder
        for direction in directions_of(args):
            _train_reward_model(
                args, run_dir, run_dir / f'reward_classifier_{direction}.pt',
                demos / direction, negatives / direction if negatives is not None else None)
        return run_dir / 'reward_classifier_{direction}.pt'
    return _train_reward_model(args, run_dir, run_dir / 'reward_classifier.pt', demos,
                               negatives)


def reward_training_command(args, model: Path, sources: List[str]) -> List[str]:
    """Return the ``serl_train_reward`` command line that trains ``model`` on ``sources``."""
    cmd = ['serl_train_reward', *sources, '--output', str(model), '--image-keys', *CAMERAS,
           '--steps', str(args.reward_steps), '--seed', str(args.seed),
           '--target-fpr', str(args.reward_fpr),
           '--min-threshold', str(args.reward_min_threshold)]
    if args.smoke:
        # one held-out episode: the others (>= 1 success) train
        cmd += ['--holdout', '0.01', '--batch-size', '16']
    return cmd


def _train_reward_model(args, run_dir: Path, model: Path, demos: Path,
                        negatives: Optional[Path]) -> Path:
    if model.exists():
        log(f'step 2/3 reward classifier: {model} (skipped)')
        return model
    suffix = model.stem[len('reward_classifier'):]   # '_forward' for a direction's
    log_path = run_dir / 'logs' / f'train_reward{suffix}.log'
    sources = [str(demos)] + ([str(negatives)] if negatives is not None else [])
    log(f'step 2/3 reward classifier: training on {" + ".join(sources)} (log: {log_path})')
    if args.reward == 'vice':
        log('  VICE: no failure episodes are recorded; the first classifier separates the '
            'success frames of the demos from their other frames, and learns the rest from the '
            'states the policy visits')
    cmd = reward_training_command(args, model, sources)
    with log_path.open('ab') as out:   # on a terminal its progress bar (stderr) shows there
        code = subprocess.call(cmd, stdout=out,
                               stderr=None if sys.stderr.isatty() else subprocess.STDOUT)
    if code != 0 or not model.exists():
        raise JobError(f'serl_train_reward failed (exit {code}); see {log_path}')
    tail = [ln for ln in log_path.read_text().splitlines() if ln.strip()][-3:]
    for line in tail:
        log(f'  {line}')
    return model


def pretrain_encoder(args, run_dir: Path, demos: Path) -> Optional[Path]:
    """Vision tasks: pretrain the frozen image encoders on the demos (behaviour cloning)."""
    recipe = TASKS[args.task]
    if not recipe.image_encoder:
        return None
    encoder = run_dir / 'image_encoder.pt'
    if encoder.exists():
        log(f'step 2/3 image encoder: {encoder} (skipped)')
        return encoder
    log_path = run_dir / 'logs' / 'pretrain_encoder.log'
    log(f'step 2/3 image encoder: behaviour cloning of the demos in {demos} from the cameras '
        f'(log: {log_path})')
    # forward-backward: one frozen encoder for both directions, from both directions' demos
    sources = [str(direction_dir(demos, d)) for d in directions_of(args)]
    cmd = ['serl_pretrain_encoder', *sources, '--objective', 'bc', '--cameras',
           *recipe.cameras, '--output', str(encoder), '--steps', str(args.encoder_steps),
           '--seed', str(args.seed)]
    with log_path.open('ab') as out:
        code = subprocess.call(cmd, stdout=out,
                               stderr=None if sys.stderr.isatty() else subprocess.STDOUT)
    if code != 0 or not encoder.exists():
        raise JobError(f'serl_pretrain_encoder failed (exit {code}); see {log_path}')
    return encoder
