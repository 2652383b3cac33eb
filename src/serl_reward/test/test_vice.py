"""VICE update: mixup, label smoothing, gradient penalty, and the direction of its updates."""

import numpy as np
import pytest
from serl_reward.classifier import build_net, ClassifierConfig, SuccessClassifier
from serl_reward.classifier import to_tensor_batch
from serl_reward.vice import gradient_penalty, mixup, smooth_labels, ViceConfig, ViceTrainer
from synthetic import make_frames
import torch

CONFIG = ClassifierConfig(image_keys=('front', 'wrist'), image_size=(32, 32),
                          channels=(8, 16), feature_dim=16, hidden_dim=32)


def test_mixup_mixes_inputs_and_labels_with_the_same_weight():
    rng = np.random.default_rng(0)
    inputs = {'front': torch.cat([torch.ones(4, 3, 8, 8), torch.zeros(4, 3, 8, 8)])}
    labels = torch.cat([torch.ones(4), torch.zeros(4)])
    mixed, targets, lam = mixup(inputs, labels, 1.0, rng)
    assert mixed['front'].shape == (8, 3, 8, 8) and targets.shape == (8,)
    assert torch.all((lam >= 0) & (lam <= 1))
    # For 0/1 images and 0/1 labels, every pixel of a mixed image equals its mixed label.
    assert torch.allclose(mixed['front'].mean(dim=(1, 2, 3)), targets, atol=1e-6)
    same, same_targets, _ = mixup(inputs, labels, 0.0, rng)
    assert same is inputs and torch.equal(same_targets, labels)


def test_label_smoothing_pulls_targets_toward_one_half():
    smoothed = smooth_labels(torch.tensor([0.0, 1.0, 0.5]), 0.2)
    assert torch.allclose(smoothed, torch.tensor([0.1, 0.9, 0.5]))


def test_gradient_penalty_is_the_squared_input_gradient_norm():
    net = build_net(CONFIG, seed=0)
    frames = make_frames(6, size=32, seed=0)
    inputs = to_tensor_batch(frames.images, CONFIG.image_keys)
    penalty, logits = gradient_penalty(net, inputs)
    assert logits.shape == (6,) and penalty.dim() == 0 and penalty.item() > 0
    # Check against per-sample autograd.
    expected = []
    for i in range(6):
        single = {k: v[i:i + 1].clone().requires_grad_(True) for k, v in inputs.items()}
        grads = torch.autograd.grad(net(single).sum(), list(single.values()))
        expected.append(sum(g.pow(2).sum() for g in grads))
    assert penalty.item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-4)
    penalty.backward()  # differentiable w.r.t. the parameters (double backprop)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_vice_updates_separate_success_from_visited_states():
    torch.set_num_threads(1)
    data = make_frames(200, size=32, seed=4)
    classifier = SuccessClassifier(build_net(CONFIG, seed=0))
    trainer = ViceTrainer(classifier, ViceConfig(batch_size=32, learning_rate=1e-3,
                                                 gradient_penalty=0.1, seed=0))
    with pytest.raises(ValueError, match='positives and negatives'):
        trainer.update()
    success, visited = data.subset(data.labels), data.subset(~data.labels)
    trainer.positives.extend(success.images)
    trainer.negatives.extend(visited.images)
    infos = [trainer.update() for _ in range(100)]
    assert trainer.num_updates == 100
    assert all(np.isfinite(i['loss']) and i['gradient_penalty'] >= 0 for i in infos)
    test = make_frames(200, size=32, seed=9)
    p = classifier.probability(test.images)
    assert p[test.labels].mean() > 0.65 > 0.35 > p[~test.labels].mean()
    # Label smoothing (eps 0.2) bounds the confidence: targets are 0.1 / 0.9.
    logits = classifier.logits(test.images)
    assert np.abs(logits).max() < 8.0


def test_gradient_penalty_smooths_the_classifier():
    data = make_frames(200, size=32, seed=4)
    norms = {}
    for weight in (0.0, 1.0):
        classifier = SuccessClassifier(build_net(CONFIG, seed=0))
        trainer = ViceTrainer(classifier, ViceConfig(batch_size=32, learning_rate=1e-3,
                                                     gradient_penalty=weight, seed=0))
        trainer.positives.extend(data.subset(data.labels).images)
        trainer.negatives.extend(data.subset(~data.labels).images)
        for _ in range(40):
            trainer.update()
        penalty, _ = gradient_penalty(classifier.net,
                                      to_tensor_batch(data.images, CONFIG.image_keys))
        norms[weight] = penalty.item()
    assert norms[1.0] < norms[0.0]


def test_calibrate_rechooses_the_threshold_on_held_out_failures():
    from serl_reward.metrics import select_threshold
    data = make_frames(60, size=32, seed=5)
    classifier = SuccessClassifier(build_net(CONFIG, seed=0), threshold=0.999)
    trainer = ViceTrainer(classifier, ViceConfig(target_fpr=0.05))
    assert trainer.calibrate() is None and classifier.threshold == 0.999   # no frames yet
    failures = data.subset(~data.labels)
    trainer.add_calibration(failures.images)
    expected = select_threshold(classifier.probability(failures.images), 0.05)
    assert trainer.calibrate() == pytest.approx(expected) == classifier.threshold
    assert 0.5 <= classifier.threshold <= 1.0
    assert np.isnan(trainer.last_calibration['success_recall'])   # no success examples yet
    successes = data.subset(data.labels)
    trainer.add_successes(successes.images)
    trainer.calibrate()
    p = classifier.probability(successes.images)
    assert trainer.last_calibration['success_recall'] == pytest.approx(
        np.mean(p >= classifier.threshold))
    assert trainer.last_calibration['calibration_frames'] == len(failures)
    with pytest.raises(ValueError, match='target_fpr'):
        ViceTrainer(classifier, ViceConfig(target_fpr=1.0))
