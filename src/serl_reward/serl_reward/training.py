"""
Supervised training of the success classifier from labelled frames, with held-out metrics.

Binary cross-entropy on class-balanced minibatches (success frames are rare in demos, so each
batch draws ``positive_fraction`` of its frames from them), with DrQ random-shift augmentation.
The decision threshold is then chosen on held-out frames for a target false-positive rate:
a false positive is a reward the policy can learn to exploit (SERL, Luo et al. 2024, Sec. IV-C).
"""

import dataclasses
import time

import numpy as np
from serl_reward.augment import random_shift
from serl_reward.classifier import bce_with_logits, build_net, SuccessClassifier
from serl_reward.classifier import to_tensor_batch
from serl_reward.metrics import binary_metrics, select_threshold
import torch


@dataclasses.dataclass
class TrainConfig:
    """
    Optimisation settings of :func:`train_net`.

    :ivar steps: gradient steps.
    :ivar batch_size: frames per step.
    :ivar learning_rate: Adam step size.
    :ivar weight_decay: Adam (L2) weight decay.
    :ivar shift_pad: random-shift augmentation in pixels (0 disables it).
    :ivar positive_fraction: share of each batch drawn from success frames.
    :ivar target_fpr: false-positive rate the held-out threshold must meet.
    :ivar min_threshold: lowest threshold chosen, whatever the held-out frames allow (0.5: the
        natural boundary; ``serl_train`` uses 0.95, docs/reward.md says why).
    :ivar seed: seed of the network initialisation, sampling and augmentation.
    """

    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    shift_pad: int = 4
    positive_fraction: float = 0.5
    target_fpr: float = 0.01
    min_threshold: float = 0.5
    seed: int = 0


def train_net(net, dataset, config, log=None, log_every=100, progress=True):
    """
    Train ``net`` in place on ``dataset`` (a :class:`FrameDataset`).

    :param net: a :class:`SuccessNet`.
    :param dataset: training frames; must contain both success and failure frames.
    :param config: :class:`TrainConfig`.
    :param log: optional callable(str) for progress lines every ``log_every`` steps.
    :param progress: a progress bar (tqdm) on a terminal (stderr a tty), none otherwise.

    :returns: list[float]: the training loss of every step.

    :raises ValueError: the dataset lacks success or failure frames.
    """
    positives = np.flatnonzero(dataset.labels)
    negatives = np.flatnonzero(~dataset.labels)
    if positives.size == 0 or negatives.size == 0:
        raise ValueError(f'training needs success and failure frames; have {dataset.summary()}')
    keys = net.config.image_keys
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    optimiser = torch.optim.Adam([p for p in net.parameters() if p.requires_grad],
                                 lr=config.learning_rate, weight_decay=config.weight_decay)
    num_positive = max(1, int(round(config.batch_size * config.positive_fraction)))
    losses, start = [], time.monotonic()
    net.train()
    from tqdm import tqdm
    for step in tqdm(range(config.steps), desc='reward classifier', unit='step', leave=False,
                     disable=None if progress else True, dynamic_ncols=True):
        index = np.concatenate([
            rng.choice(positives, num_positive),
            rng.choice(negatives, config.batch_size - num_positive)])
        batch = to_tensor_batch({k: dataset.images[k][index] for k in keys}, keys)
        batch = {k: random_shift(v, config.shift_pad, generator) for k, v in batch.items()}
        targets = torch.as_tensor(dataset.labels[index], dtype=torch.float32)
        loss = bce_with_logits(net(batch), targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if log is not None and (step + 1) % log_every == 0:
            log(f'step {step + 1}/{config.steps} loss {np.mean(losses[-log_every:]):.4f} '
                f'({time.monotonic() - start:.0f} s)')
    net.eval()
    return losses


def predict(classifier, dataset, batch_size=256):
    """Probabilities (N,) float64 of every frame of ``dataset``, in batches."""
    keys = classifier.config.image_keys
    out = [classifier.probability({k: dataset.images[k][i:i + batch_size] for k in keys})
           for i in range(0, len(dataset), batch_size)]
    return np.concatenate(out) if out else np.zeros(0)


def fit_classifier(train_set, heldout_set, classifier_config, train_config, log=None):
    """
    Train a classifier, pick its threshold on ``heldout_set``, and measure it there.

    The threshold is the lowest one (>= ``train_config.min_threshold``) whose false-positive
    rate on the held-out failure frames is <= ``train_config.target_fpr``
    (:func:`select_threshold`); the metrics are those
    of that threshold on the same frames, so they are slightly optimistic: evaluate on frames of
    other episodes for an unbiased figure (bench/reward_classifier.py does).

    :returns: tuple: (SuccessClassifier, metrics dict of :func:`binary_metrics` plus ``threshold``,
        ``target_fpr``, ``train_frames``, ``heldout_frames``).

    :raises ValueError: no success or no failure frames to train on, or no held-out failure frames.
    """
    keys, size = classifier_config.image_keys, classifier_config.image_size
    train_set = train_set.select_keys(keys, size)
    heldout_set = heldout_set.select_keys(keys, size)
    net = build_net(classifier_config, seed=train_config.seed)
    train_net(net, train_set, train_config, log=log)
    classifier = SuccessClassifier(net)
    probabilities = predict(classifier, heldout_set)
    negatives = probabilities[~heldout_set.labels]
    classifier.threshold = select_threshold(negatives, train_config.target_fpr,
                                            floor=train_config.min_threshold)
    metrics = binary_metrics(probabilities, heldout_set.labels, classifier.threshold)
    metrics.update(threshold=classifier.threshold, target_fpr=train_config.target_fpr,
                   min_threshold=train_config.min_threshold,
                   train_frames=len(train_set), heldout_frames=len(heldout_set))
    return classifier, metrics
