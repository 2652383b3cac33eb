"""
VICE: a success classifier trained against the states the policy visits, as RL runs.

Variational Inverse Control with Events (Fu, Singh, Ghosh, Yang, Levine 2018, Alg. 1 and
Eq. 5): the event classifier D(s) = p(e = 1 | s) is trained with success examples as positives
and states visited by the current policy as negatives, periodically while RL runs, and the
policy maximises r(s) = log D(s). Alone this classifier overfits and turns into a brittle
reward; three regularisers keep it smooth (as SERL's VICE reward classifier does):

- mixup (Zhang et al. 2018, Eq. 1): inputs and labels are convex combinations
  x~ = lam x_i + (1 - lam) x_j, y~ = lam y_i + (1 - lam) y_j with lam ~ Beta(alpha, alpha);
- label smoothing (Szegedy et al. 2016, Sec. 7): y <- (1 - eps) y + eps / 2;
- a zero-centred gradient penalty on the mixed inputs (Mescheder et al. 2018, Eq. 9, the R1
  form, here at interpolated points): lambda_gp E[ ||grad_x logit(x~)||^2 ].

Loss = BCE(logit(x~), y~_smoothed) + lambda_gp * penalty.

These regularisers move the classifier's probabilities away from 0 and 1 (label smoothing
caps them at 1 - eps/2, mixup pulls them toward the interpolation), so a success threshold
chosen for the first classifier no longer fits: the trainer re-chooses it after its updates
the way the first one was chosen, for a target false-positive rate on held-out frames known to
be failures (the demos' frames before success; :meth:`ViceTrainer.calibrate`).
"""

import dataclasses
import threading

import numpy as np
from serl_reward.augment import random_shift
from serl_reward.classifier import bce_with_logits, to_tensor_batch
from serl_reward.frame_buffer import FrameBuffer
from serl_reward.metrics import select_threshold
import torch


@dataclasses.dataclass
class ViceConfig:
    """
    Settings of the VICE classifier updates.

    :ivar batch_size: frames per update (half positives, half negatives).
    :ivar learning_rate: Adam step size.
    :ivar mixup_alpha: Beta(alpha, alpha) parameter of mixup; 0 disables mixup.
    :ivar label_smoothing: eps of label smoothing in [0, 1).
    :ivar gradient_penalty: weight lambda_gp of the gradient penalty; 0 disables it.
    :ivar shift_pad: random-shift augmentation in pixels.
    :ivar positive_capacity: success frame sets kept (demo success frames + answered queries).
    :ivar negative_capacity: policy-visited frame sets kept (most recent).
    :ivar calibration_capacity: held-out failure frame sets kept for :meth:`calibrate`.
    :ivar target_fpr: false-positive rate on those frames the threshold is chosen for.
    :ivar seed: seed of sampling, mixup and augmentation.
    """

    batch_size: int = 32
    learning_rate: float = 3e-4
    mixup_alpha: float = 1.0
    label_smoothing: float = 0.2
    gradient_penalty: float = 0.1
    shift_pad: int = 4
    positive_capacity: int = 1000
    negative_capacity: int = 2000
    calibration_capacity: int = 500
    target_fpr: float = 0.001
    seed: int = 0

    def validate(self):
        """Raise ``ValueError`` naming the first invalid field."""
        if self.batch_size < 2:
            raise ValueError(f'batch_size must be >= 2, got {self.batch_size}')
        if self.mixup_alpha < 0 or self.gradient_penalty < 0 or self.shift_pad < 0:
            raise ValueError('mixup_alpha, gradient_penalty and shift_pad must be >= 0')
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f'label_smoothing must be in [0, 1), got {self.label_smoothing}')
        if not 0.0 <= self.target_fpr < 1.0:
            raise ValueError(f'target_fpr must be in [0, 1), got {self.target_fpr}')


def mixup(inputs, targets, alpha, rng):
    """
    Mix each sample with a random partner from the same batch (Zhang et al. 2018, Eq. 1).

    :param inputs: dict camera -> float tensor (B, C, H, W); every camera is mixed with the same
        partner and weight.
    :param targets: (B,) float labels in [0, 1].
    :param alpha: Beta(alpha, alpha) parameter; 0 returns the inputs unchanged.
    :param rng: ``numpy.random.Generator`` drawing the weights and partners.

    :returns: tuple: (mixed inputs dict, mixed targets (B,), weights lam (B,)).
    """
    batch = targets.shape[0]
    if alpha <= 0:
        return inputs, targets, torch.ones(batch)
    lam = torch.as_tensor(rng.beta(alpha, alpha, size=batch), dtype=torch.float32)
    partner = torch.as_tensor(rng.permutation(batch))
    weight = lam.view(-1, 1, 1, 1)
    mixed = {k: weight * v + (1 - weight) * v[partner] for k, v in inputs.items()}
    return mixed, lam * targets + (1 - lam) * targets[partner], lam


def smooth_labels(targets, eps):
    """Label smoothing for a binary target: (1 - eps) y + eps / 2."""
    return targets * (1.0 - eps) + 0.5 * eps


def gradient_penalty(net, inputs):
    """
    Zero-centred gradient penalty E[ ||d logit / d x||^2 ] over all cameras' pixels.

    :param net: a :class:`SuccessNet`.
    :param inputs: dict camera -> float tensor (B, C, H, W) (mixed, augmented frames).

    :returns: tuple: (penalty scalar tensor with graph for backprop, logits (B,) of ``inputs``).
    """
    inputs = {k: v.detach().requires_grad_(True) for k, v in inputs.items()}
    logits = net(inputs)
    grads = torch.autograd.grad(logits.sum(), list(inputs.values()), create_graph=True)
    squared_norm = sum(g.pow(2).flatten(1).sum(1) for g in grads)
    return squared_norm.mean(), logits


class ViceTrainer:
    """
    Updates a success classifier the VICE way from success frames and visited frames.

    :param classifier: the :class:`SuccessClassifier` to train in place (its threshold is kept).
    :param config: :class:`ViceConfig`.

    Adding frame sets and sampling them are thread-safe: frames may arrive from one thread
    while :meth:`update` runs in another (:class:`serl_reward.vice_worker.ViceWorker`).
    """

    def __init__(self, classifier, config=None):
        self.config = config or ViceConfig()
        self.config.validate()
        self.classifier = classifier
        keys, size = classifier.config.image_keys, classifier.config.image_size
        self.positives = FrameBuffer(keys, size, self.config.positive_capacity)
        self.negatives = FrameBuffer(keys, size, self.config.negative_capacity)
        self.calibration = FrameBuffer(keys, size, self.config.calibration_capacity)
        self.last_calibration = {}
        self.optimiser = torch.optim.Adam(
            [p for p in classifier.net.parameters() if p.requires_grad],
            lr=self.config.learning_rate)
        self.rng = np.random.default_rng(self.config.seed)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.num_updates = 0
        self._buffers_lock = threading.Lock()

    def add_success(self, frames):
        """Add one success frame set (camera -> uint8 (H, W, 3)) to the positives."""
        with self._buffers_lock:
            self.positives.add(frames)

    def add_visited(self, frames):
        """Add one frame set the policy visited (camera -> uint8 (H, W, 3)) to the negatives."""
        with self._buffers_lock:
            self.negatives.add(frames)

    def add_successes(self, images):
        """Add many success frame sets: camera -> uint8 (N, H, W, 3)."""
        with self._buffers_lock:
            self.positives.extend(images)

    def add_visited_many(self, images):
        """Add many visited frame sets (negatives): camera -> uint8 (N, H, W, 3)."""
        with self._buffers_lock:
            self.negatives.extend(images)

    def add_calibration(self, images):
        """Add held-out failure frame sets (never trained on): camera -> uint8 (N, H, W, 3)."""
        with self._buffers_lock:
            self.calibration.extend(images)

    def calibrate(self, batch_size=64, recall_frames=256):
        """
        Re-choose the classifier's threshold for ``target_fpr`` on the calibration frames.

        The rule of the first classifier (:func:`serl_reward.metrics.select_threshold`, never
        below 0.5); the new threshold is set on the trainer's classifier and returned. Also
        scores the first ``recall_frames`` success examples (the demos' success frames come
        first; they are trained on, so this recall is an upper bound of a held-out one) and
        keeps the figures in :attr:`last_calibration`: ``threshold``, ``success_recall``
        (fraction of those success frames at or above it), ``calibration_frames``.

        :returns: the threshold (float in [0.5, 1]), or None without calibration frames.
        """
        if len(self.calibration) == 0:
            return None
        keys = self.classifier.config.image_keys
        with self._buffers_lock:
            images = {k: self.calibration.images[k][:len(self.calibration)].copy()
                      for k in keys}
            n_pos = min(len(self.positives), int(recall_frames))
            positives = {k: self.positives.images[k][:n_pos].copy()
                         for k in keys} if n_pos else None

        def scores_of(frames):
            n = len(frames[keys[0]])
            return np.concatenate([self.classifier.probability(
                {k: v[i:i + batch_size] for k, v in frames.items()})
                for i in range(0, n, batch_size)])

        threshold = select_threshold(scores_of(images), self.config.target_fpr)
        self.classifier.threshold = threshold
        recall = float(np.mean(scores_of(positives) >= threshold)) if n_pos else float('nan')
        self.last_calibration = {'threshold': float(threshold), 'success_recall': recall,
                                 'calibration_frames': len(images[keys[0]])}
        return threshold

    def ready(self):
        """Tell whether both positives and negatives are available."""
        return len(self.positives) > 0 and len(self.negatives) > 0

    def update(self):
        """
        Take one gradient step on a batch of half positives, half negatives.

        :returns: dict: ``loss`` (total), ``bce``, ``gradient_penalty``,
            ``positive_probability`` and ``negative_probability`` (mean p of the un-mixed
            batch halves, before the step).

        :raises ValueError: no positives or no negatives yet.
        """
        if not self.ready():
            raise ValueError(f'VICE update needs positives and negatives; have '
                             f'{len(self.positives)} and {len(self.negatives)}')
        cfg, net = self.config, self.classifier.net
        keys = self.classifier.config.image_keys
        half = cfg.batch_size // 2
        with self._buffers_lock:
            positive = self.positives.sample(half, self.rng)
            negative = self.negatives.sample(cfg.batch_size - half, self.rng)
        batch = to_tensor_batch(
            {k: np.concatenate([positive[k], negative[k]]) for k in keys}, keys)
        batch = {k: random_shift(v, cfg.shift_pad, self.generator) for k, v in batch.items()}
        labels = torch.cat([torch.ones(half), torch.zeros(cfg.batch_size - half)])
        net.train()
        mixed, targets, _ = mixup(batch, labels, cfg.mixup_alpha, self.rng)
        targets = smooth_labels(targets, cfg.label_smoothing)
        if cfg.gradient_penalty > 0:
            penalty, logits = gradient_penalty(net, mixed)
        else:
            penalty, logits = torch.zeros(()), net(mixed)
        bce = bce_with_logits(logits, targets)
        loss = bce + cfg.gradient_penalty * penalty
        with torch.no_grad():
            plain = torch.sigmoid(net(batch))
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        net.eval()
        self.num_updates += 1
        return {'loss': loss.item(), 'bce': bce.item(), 'gradient_penalty': penalty.item(),
                'positive_probability': float(plain[:half].mean()),
                'negative_probability': float(plain[half:].mean())}
