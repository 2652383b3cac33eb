"""Success classifier core: learning, threshold selection, reward modes, model files."""

import numpy as np
import pytest
from serl_reward.augment import random_shift
from serl_reward.classifier import build_net, ClassifierConfig, MIN_LOG_PROBABILITY
from serl_reward.classifier import SuccessClassifier
from serl_reward.dataset import split_by_episode
from serl_reward.metrics import binary_metrics, select_threshold
from serl_reward.model_file import load_model, ModelFileError, save_model
from serl_reward.training import fit_classifier, predict, TrainConfig
from synthetic import make_frames
import torch

CONFIG = ClassifierConfig(image_keys=('front', 'wrist'), image_size=(32, 32),
                          channels=(8, 16), feature_dim=16, hidden_dim=32)


@pytest.fixture(scope='module')
def trained():
    torch.set_num_threads(1)
    data = make_frames(800, seed=1)
    train, heldout = split_by_episode(data, 0.25, seed=0)
    classifier, metrics = fit_classifier(
        train, heldout, CONFIG,
        TrainConfig(steps=300, batch_size=32, learning_rate=1e-3, target_fpr=0.02))
    return classifier, metrics


def test_classifier_learns_separable_task(trained):
    classifier, metrics = trained
    test = make_frames(400, seed=7)
    result = binary_metrics(predict(classifier, test), test.labels, classifier.threshold)
    assert result['accuracy'] >= 0.95, result
    assert metrics['heldout_frames'] > 0 and metrics['train_frames'] > metrics['heldout_frames']


def test_threshold_meets_target_fpr_on_fresh_heldout_frames(trained):
    classifier, metrics = trained
    assert metrics['fpr'] <= 0.02
    fresh = make_frames(600, seed=11)
    result = binary_metrics(predict(classifier, fresh), fresh.labels, classifier.threshold)
    assert result['fpr'] <= 0.03, result


def test_select_threshold_counts_allowed_false_positives():
    negatives = np.linspace(0.0, 0.99, 100)
    threshold = select_threshold(negatives, 0.05, floor=0.0)
    assert np.sum(negatives > threshold) == 5
    assert select_threshold(negatives, 0.0, floor=0.0) == pytest.approx(0.99)
    assert select_threshold(np.array([0.1, 0.2]), 0.5) == 0.5  # floor
    # serl_train's floor: held-out failures far below it do not pull the threshold down
    assert select_threshold(np.array([0.1, 0.2]), 0.001, floor=0.95) == 0.95
    assert select_threshold(np.array([0.1, 0.97]), 0.001, floor=0.95) == pytest.approx(0.97)
    with pytest.raises(ValueError, match='floor'):
        select_threshold(np.array([0.1]), 0.1, floor=1.5)
    with pytest.raises(ValueError, match='negative'):
        select_threshold(np.array([]), 0.1)


def test_binary_metrics_counts():
    metrics = binary_metrics([0.9, 0.8, 0.2, 0.7], [1, 0, 0, 0], 0.5)
    assert (metrics['tp'], metrics['fp'], metrics['tn'], metrics['fn']) == (1, 2, 1, 0)
    assert metrics['fpr'] == pytest.approx(2 / 3)
    assert metrics['precision'] == pytest.approx(1 / 3)
    assert metrics['recall'] == 1.0


def test_reward_modes():
    classifier = SuccessClassifier(build_net(CONFIG, seed=0), threshold=0.7)
    p, r, s = classifier.reward(2.0, 'sparse')
    assert r == 1.0 and s and p == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert classifier.reward(0.0, 'sparse')[1:] == (0.0, False)
    p, r, s = classifier.reward(0.0, 'vice')
    assert r == pytest.approx(np.log(0.5)) and not s
    assert classifier.reward(-100.0, 'vice')[1] == MIN_LOG_PROBABILITY
    with pytest.raises(ValueError, match='mode'):
        classifier.reward(0.0, 'dense')


def test_random_shift_keeps_shape_and_moves_content():
    images = torch.zeros(64, 3, 16, 16)
    images[:, :, 6:10, 6:10] = 1.0
    shifted = random_shift(images, pad=4, generator=torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    assert torch.allclose(shifted.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)))
    assert not torch.equal(shifted, images)
    assert torch.equal(random_shift(images, 0), images)


def test_model_file_round_trip(tmp_path, trained):
    classifier, metrics = trained
    path = str(tmp_path / 'model.pt')
    save_model(path, classifier, metrics)
    loaded, loaded_metrics = load_model(path)
    frames = make_frames(8, seed=3)
    assert np.allclose(loaded.probability(frames.images), classifier.probability(frames.images))
    assert loaded.threshold == classifier.threshold
    assert loaded.config == classifier.config
    assert loaded_metrics['fpr'] == metrics['fpr']


def test_model_file_errors_name_the_file(tmp_path):
    missing = str(tmp_path / 'absent.pt')
    with pytest.raises(ModelFileError, match='absent.pt.*no such file'):
        load_model(missing)
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(b'not a torch file at all')
    with pytest.raises(ModelFileError, match='corrupt.pt'):
        load_model(str(corrupt))
    other = str(tmp_path / 'other.pt')
    torch.save({'weights': torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match='other.pt.*not a serl_reward'):
        load_model(other)


def test_frozen_pretrained_encoder(tmp_path):
    encoder = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=4), torch.nn.Flatten())
    path = str(tmp_path / 'encoder.ts')
    torch.jit.script(encoder).save(path)
    config = ClassifierConfig(image_keys=('front',), image_size=(32, 32),
                              pretrained_encoder_path=path)
    net = build_net(config, seed=0)
    frozen = [p for n, p in net.named_parameters() if n.startswith('pretrained.')]
    assert frozen and not any(p.requires_grad for p in frozen)
    classifier = SuccessClassifier(net)
    frames = make_frames(4, seed=0, keys=('front',))
    model_path = str(tmp_path / 'model.pt')
    save_model(model_path, classifier)
    loaded, _ = load_model(model_path)
    assert np.allclose(loaded.probability(frames.images), classifier.probability(frames.images))
