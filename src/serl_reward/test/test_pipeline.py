"""Frame sync, active-query selection, label history and the reward pipeline (no ROS)."""

import numpy as np
import pytest
from sensor_msgs.msg import Image
from serl_reward.active_query import ActiveQuerySelector
from serl_reward.classifier import build_net, ClassifierConfig, SuccessClassifier
from serl_reward.frame_sync import FrameSynchroniser
from serl_reward.image_codec import fill_image, ImageFormatError
from serl_reward.label_history import LabelHistory, parse_answer
from serl_reward.reward_pipeline import RewardPipeline
import torch

CONFIG = ClassifierConfig(image_keys=('front', 'wrist'), image_size=(16, 16),
                          channels=(4,), feature_dim=8, hidden_dim=8)


def test_synchroniser_matches_within_tolerance_and_moves_forward():
    sync = FrameSynchroniser(('a', 'b'), tolerance=0.01)
    assert sync.add('a', 1.0, 'a1') is None
    assert sync.add('b', 1.5, 'b15') is None  # too far from a1
    assert sync.add('a', 1.505, 'a15') == (1.505, 'a', {'a': 'a15', 'b': 'b15'})
    assert sync.add('b', 1.0, 'b1') is None  # complete with a1, but older than the last set
    with pytest.raises(KeyError, match='unknown camera'):
        sync.add('c', 2.0, None)


def test_selector_queries_the_best_frame_once_per_interval():
    selector = ActiveQuerySelector(interval=10.0, min_probability=0.2)
    assert selector.take(0.0) is None  # starts the clock
    for i, p in enumerate([0.1, 0.9, 0.5, 0.15]):
        selector.observe((i, 0), {'front': i}, p)
    assert selector.take(5.0) is None
    candidate = selector.take(10.0)
    assert candidate.probability == 0.9 and candidate.stamp == (1, 0)
    assert selector.take(25.0) is None  # nothing new observed
    selector.observe((7, 0), {}, 0.3)
    assert selector.take(25.0).stamp == (7, 0)
    assert ActiveQuerySelector(0.0).take(100.0) is None


def test_label_history_and_answers():
    history = LabelHistory(span=2.5, max_gap=0.2)
    for t, s in [(1.0, False), (2.0, True), (3.0, False), (4.0, True)]:
        history.add(t, s)
    assert len(history) == 3
    assert history.lookup(2.04, 0.1) is True and history.lookup(3.9, 0.2) is True
    assert history.lookup(1.0, 0.1) is None  # older than the span
    assert history.lookup(2.5, 0.1) is None  # between samples a second apart: unknown
    # a 20 Hz signal: an hour of it is a few runs, and any time inside a run is known
    long = LabelHistory(span=3600.0, max_gap=0.2)
    for k in range(72_000):
        long.add(k * 0.05, (k // 1000) % 2 == 1)
    assert len(long) == 72 and long.lookup(10.0, 0.1) is False
    assert long.lookup(75.03, 0.1) is True and long.lookup(3549.0, 0.1) is False
    long.add(3700.0, True)  # after a stall of 100 s: a new run, the gap unknown
    assert long.lookup(3650.0, 0.1) is None and long.lookup(3700.05, 0.1) is True
    with pytest.raises(ValueError, match='span'):
        LabelHistory(span=0.0)
    assert [parse_answer(a) for a in ('y', ' Yes\n', 'n', 'x', '')] == [
        True, True, False, None, None]


def image(pixels, sec, encoding='rgb8', frame_id='cam'):
    msg = fill_image(Image(), pixels, encoding)
    msg.header.stamp.sec, msg.header.frame_id = sec, frame_id
    return msg


def test_pipeline_scores_synchronised_sets_and_counts_skips():
    classifier = SuccessClassifier(build_net(CONFIG, seed=0), threshold=0.5)
    pipeline = RewardPipeline(classifier, mode='vice', query_interval=1.0)
    frame = np.full((16, 16, 3), 100, np.uint8)
    assert pipeline.add_image('front', image(frame, 1, frame_id='front_cam')) is None
    result = pipeline.add_image('wrist', image(frame[:, :, 0], 1, 'mono8', 'wrist_cam'))
    assert result.stamp == (1, 0) and result.frame_id in ('front_cam', 'wrist_cam')
    assert result.reward == pytest.approx(np.log(result.probability), abs=1e-5)
    with pytest.raises(ImageFormatError, match='expected 16x16'):
        pipeline.add_image('front', image(np.zeros((8, 8, 3), np.uint8), 2))
    with pytest.raises(ImageFormatError, match='encoding'):
        pipeline.add_image('front', Image(height=16, width=16, encoding='32FC1', step=64,
                                          data=bytes(1024)))
    assert pipeline.counts['frames_skipped'] == 2 and pipeline.counts['rewards'] == 1
    assert dict(pipeline.skipped) == {'size': 1, 'encoding': 1}
    pipeline.take_query(0.0)
    assert pipeline.take_query(1.0).probability == pytest.approx(result.probability)
    pipeline.add_label(result.frames, True)
    labelled = pipeline.labelled_dataset()
    assert len(labelled) == 1 and labelled.labels[0]


def test_pipeline_runs_vice_rounds_and_feeds_answers_to_vice():
    from serl_reward.vice import ViceConfig, ViceTrainer
    classifier = SuccessClassifier(build_net(CONFIG, seed=0))
    trainer = ViceTrainer(classifier, ViceConfig(batch_size=4, seed=0))
    success = {k: np.full((16, 16, 3), 200, np.uint8) for k in CONFIG.image_keys}
    trainer.add_success(success)
    pipeline = RewardPipeline(classifier, mode='vice', vice_trainer=trainer,
                              vice_update_interval=2, vice_updates_per_round=3)
    frame = np.zeros((16, 16, 3), np.uint8)
    for sec in range(4):
        for name in CONFIG.image_keys:
            pipeline.add_frame(name, (sec, 0), 'cam', frame)
    assert pipeline.counts['rewards'] == 4 and len(trainer.negatives) == 4
    assert pipeline.counts['vice_updates'] == 6 and trainer.num_updates == 6
    assert set(pipeline.last_vice_info) >= {'loss', 'bce', 'gradient_penalty'}
    pipeline.add_label(success, True)
    pipeline.add_label(success, False)
    assert len(trainer.positives) == 2 and len(trainer.negatives) == 5


def _score_sequence(pipeline, frames):
    results = []
    for sec, frame in enumerate(frames):
        for name in CONFIG.image_keys:
            result = pipeline.add_frame(name, (sec, 0), 'cam', frame)
        results.append(result)
    return results


@pytest.mark.parametrize('mode', ['sparse', 'vice'])
def test_success_needs_consecutive_sets_above_the_threshold(mode):
    """success_frames 3: a lone positive set is no success; three in a row are."""
    classifier = SuccessClassifier(build_net(CONFIG, seed=0))
    low, high = np.zeros((16, 16, 3), np.uint8), np.full((16, 16, 3), 255, np.uint8)
    p_low, p_high = (classifier.probability({k: f for k in CONFIG.image_keys})[0]
                     for f in (low, high))
    assert p_low != p_high
    if p_low > p_high:
        low, high = high, low
    classifier.threshold = (p_low + p_high) / 2
    pipeline = RewardPipeline(classifier, mode=mode, success_frames=3)
    sequence = [high, low, high, high, low, high, high, high, high, low]
    results = _score_sequence(pipeline, sequence)
    assert [r.success for r in results] == [False] * 7 + [True, True, False]
    assert [r.probability > classifier.threshold for r in results] == [
        f is high for f in sequence]
    if mode == 'sparse':
        assert [r.reward for r in results] == [float(r.success) for r in results]
    else:  # VICE's reward is log p of the set itself
        assert all(r.reward == pytest.approx(np.log(r.probability), abs=1e-5)
                   for r in results)
    assert pipeline.counts['above_threshold'] == 7 and pipeline.counts['successes'] == 2
    single = RewardPipeline(classifier, mode=mode)  # default: each set on its own
    assert [r.success for r in _score_sequence(single, sequence)] == [
        f is high for f in sequence]
    with pytest.raises(ValueError, match='success_frames'):
        RewardPipeline(classifier, success_frames=0)


def test_vice_rounds_in_the_background_reach_the_scoring_classifier():
    import copy
    from serl_reward.vice import ViceConfig, ViceTrainer
    from serl_reward.vice_worker import ViceWorker
    classifier = SuccessClassifier(build_net(CONFIG, seed=0))
    with pytest.raises(ValueError, match='own copy'):
        ViceWorker(ViceTrainer(classifier), classifier, None)
    trainer = ViceTrainer(copy.deepcopy(classifier), ViceConfig(batch_size=4, seed=0))
    success = {k: np.full((16, 16, 3), 200, np.uint8) for k in CONFIG.image_keys}
    trainer.add_success(success)
    rounds = []
    pipeline = RewardPipeline(classifier, mode='sparse', vice_trainer=trainer,
                              vice_update_interval=2, vice_updates_per_round=3,
                              vice_background=True, on_vice_round=rounds.append)
    before = [p.detach().clone() for p in classifier.net.parameters()]
    frame = np.zeros((16, 16, 3), np.uint8)
    try:
        for sec in range(4):
            for name in CONFIG.image_keys:
                pipeline.add_frame(name, (sec, 0), 'cam', frame)
        assert pipeline.worker.wait_idle(30.0)
        assert trainer.num_updates == 6 and rounds and rounds[0] is trainer
        assert pipeline.vice_counts()['loss'] > 0 and pipeline.counts['vice_updates'] == 6
        # the scoring classifier holds the trained copy's weights, not its own first ones
        after = list(classifier.net.parameters())
        assert any(not torch.equal(a, b) for a, b in zip(after, before))
        for a, b in zip(after, trainer.classifier.net.parameters()):
            assert torch.equal(a, b) and a is not b
        # more steps requested than the worker may hold waiting: the excess is dropped
        pipeline.worker.stop()
        pipeline.worker.request(40)
        assert pipeline.worker.dropped == 40 - pipeline.worker.max_pending
    finally:
        pipeline.close()


def test_an_unanswered_query_is_counted_and_asked_again():
    classifier = SuccessClassifier(build_net(CONFIG, seed=0))
    pipeline = RewardPipeline(classifier, query_interval=1.0)
    frame = np.zeros((16, 16, 3), np.uint8)
    for name in CONFIG.image_keys:
        pipeline.add_frame(name, (0, 0), 'cam', frame)
    assert pipeline.take_query(0.0) is None   # starts the clock
    candidate = pipeline.take_query(1.5)
    assert candidate is not None and pipeline.counts['queries'] == 1
    pipeline.query_unanswered(candidate, 'timed_out')
    again = pipeline.take_query(3.0)
    assert again is not None and again.stamp == candidate.stamp
    pipeline.query_unanswered(again, 'skipped')
    assert pipeline.counts['queries_timed_out'] == pipeline.counts['queries_skipped'] == 1
    with pytest.raises(ValueError, match='unknown reason'):
        pipeline.query_unanswered(again, 'lost')
    pipeline.add_label(again.frames, False)
    assert pipeline.counts['labels'] == pipeline.counts['labels_failure'] == 1
