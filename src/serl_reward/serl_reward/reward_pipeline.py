"""
The reward node's logic without ROS: decode, synchronise, classify, propose queries, VICE.

Camera images arrive one by one; once a stamp-synchronised set (one image per camera) is
complete, the classifier scores it and the reward follows the configured mode. Success (and
the sparse reward) needs the classifier above its threshold on ``success_frames`` consecutive
sets: a per-frame false-positive rate f becomes ~f^k for independent errors, while a reached
goal (a lifted cube) persists over frames. The set is also
offered to the active-query selector (RAQ) and, in VICE mode with online updates, added to the
classifier's negatives (states the policy visits); answered queries join the labelled set and
VICE's positives or negatives. VICE rounds run inline or, with a :class:`ViceWorker`, in a
background thread on a copy of the classifier (the scorer then holds :attr:`lock`).
"""

import collections
import dataclasses
import threading

import numpy as np
from serl_reward.active_query import ActiveQuerySelector
from serl_reward.classifier import REWARD_MODES
from serl_reward.dataset import from_frames
from serl_reward.frame_sync import FrameSynchroniser
from serl_reward.image_codec import image_to_rgb, ImageFormatError
from serl_reward.vice_worker import ViceWorker


@dataclasses.dataclass
class RewardResult:
    """
    The reward of one synchronised frame set.

    :ivar stamp: (sec, nanosec) header stamp of the newest image of the set.
    :ivar frame_id: header frame_id of that image.
    :ivar probability: p(success | images) in [0, 1].
    :ivar reward: the reward under the mode (0/1 for 'sparse', log p for 'vice').
    :ivar success: probability > threshold on this set and the ``success_frames - 1`` sets
        before it.
    :ivar frames: camera name -> uint8 (H, W, 3) RGB of the set.
    """

    stamp: tuple
    frame_id: str
    probability: float
    reward: float
    success: bool
    frames: dict


class RewardPipeline:
    """
    Turns camera images into rewards; counts what it had to skip.

    :param classifier: a :class:`SuccessClassifier` (its config names the cameras and size).
    :param mode: 'sparse' or 'vice'.
    :param sync_tolerance: largest stamp difference within one frame set, seconds.
    :param query_interval: seconds between label queries; <= 0 disables RAQ.
    :param query_min_probability: frame sets below this probability are never queried.
    :param vice_trainer: optional :class:`ViceTrainer` for online classifier updates; it trains
        ``classifier`` in place, or a copy of it when ``vice_background``.
    :param vice_update_interval: frame sets between VICE update rounds (0: no online updates).
    :param vice_updates_per_round: gradient steps per round.
    :param vice_background: run the rounds in a :class:`ViceWorker` thread (the trainer's
        classifier must then be a copy of ``classifier``); call :meth:`close` at the end.
    :param on_vice_round: with ``vice_background``, called as ``on_vice_round(trainer)`` in the
        worker thread after each hand-over of weights.
    :param vice_publish_every: with ``vice_background``, rounds between hand-overs of weights
        and re-chosen threshold to the scorer.
    :param success_frames: consecutive frame sets the classifier must call a success before
        the result is a success (1: every set on its own, as SERL's classifier reward). In
        'sparse' mode the reward follows it (1 only for a success); in 'vice' the reward stays
        log p of the set.
    :raises ValueError: unknown mode, negative interval or ``success_frames`` < 1.
    """

    def __init__(self, classifier, mode='sparse', sync_tolerance=0.02, query_interval=0.0,
                 query_min_probability=0.0, vice_trainer=None, vice_update_interval=0,
                 vice_updates_per_round=1, success_frames=1, vice_background=False,
                 on_vice_round=None, vice_publish_every=1):
        if mode not in REWARD_MODES:
            raise ValueError(f'unknown reward mode {mode!r}; expected one of {REWARD_MODES}')
        if vice_update_interval < 0 or vice_updates_per_round < 0:
            raise ValueError('vice_update_interval and vice_updates_per_round must be >= 0')
        if int(success_frames) != success_frames or success_frames < 1:
            raise ValueError(f'success_frames must be an integer >= 1, got {success_frames!r}')
        self.classifier = classifier
        self.mode = mode
        self.names = tuple(classifier.config.image_keys)
        self.size = tuple(classifier.config.image_size)
        self.sync = FrameSynchroniser(self.names, sync_tolerance)
        self.selector = ActiveQuerySelector(query_interval, query_min_probability)
        self.vice = vice_trainer
        self.vice_update_interval = int(vice_update_interval)
        self.vice_updates_per_round = int(vice_updates_per_round)
        self.success_frames = int(success_frames)
        self._positive_run = 0  # consecutive sets above the threshold, up to the newest
        self.counts = collections.Counter()
        self.skipped = collections.Counter()
        self.last_vice_info = {}
        self._since_vice_update = 0
        self._labelled_frames, self._labels = [], []
        self.lock = threading.Lock()   # held while the scoring network runs
        self.worker = None
        if vice_trainer is not None and vice_background and self.vice_update_interval > 0:
            self.worker = ViceWorker(vice_trainer, classifier, self.lock, on_vice_round,
                                     publish_every=vice_publish_every)

    def add_image(self, name, msg):
        """
        Decode one ``sensor_msgs/Image`` of camera ``name`` and score the set it completes.

        :param name: camera name (one of the classifier's image keys).
        :param msg: the Image message (rclpy or any object with its fields, header included).
        :returns: a :class:`RewardResult`, or None while no new complete set exists.
        :raises ImageFormatError: the image cannot be used (wrong encoding or size, short
            data); it is skipped and counted in ``skipped`` under a short reason first.
        """
        self.counts['frames_received'] += 1
        try:
            rgb = image_to_rgb(msg, self.size)
        except ImageFormatError as error:
            self.counts['frames_skipped'] += 1
            self.skipped[_reason(error)] += 1
            raise
        stamp = (int(msg.header.stamp.sec), int(msg.header.stamp.nanosec))
        return self.add_frame(name, stamp, str(msg.header.frame_id), rgb)

    def add_frame(self, name, stamp, frame_id, rgb):
        """
        Add a decoded frame and score the set it completes.

        :param name: camera name.
        :param stamp: (sec, nanosec) of the frame.
        :param frame_id: the frame's header frame_id.
        :param rgb: uint8 (H, W, 3) RGB.
        :returns: a :class:`RewardResult`, or None while no new complete set exists.
        """
        seconds = stamp[0] + stamp[1] * 1e-9
        matched = self.sync.add(name, seconds, (rgb, tuple(stamp), frame_id))
        if matched is None:
            return None
        _, source, payloads = matched
        frames = {k: v[0] for k, v in payloads.items()}
        newest_stamp, newest_frame_id = payloads[source][1:]
        with self.lock:
            logit = self.classifier.logits({k: v[None] for k, v in frames.items()})[0]
        probability, reward, above = self.classifier.reward(logit, self.mode)
        self._positive_run = self._positive_run + 1 if above else 0
        success = self._positive_run >= self.success_frames
        if self.mode == 'sparse':
            reward = 1.0 if success else 0.0
        self.counts['rewards'] += 1
        self.counts['above_threshold'] += int(above)
        self.counts['successes'] += int(success)
        self.selector.observe(newest_stamp, frames, probability)
        if self.vice is not None and self.vice_update_interval > 0:
            self.vice.add_visited(frames)
            self._since_vice_update += 1
            if self._since_vice_update >= self.vice_update_interval and self.vice.ready():
                self._since_vice_update = 0
                self._vice_round()
        return RewardResult(newest_stamp, newest_frame_id, probability, reward, success, frames)

    def _vice_round(self):
        if self.worker is not None:
            self.worker.request(self.vice_updates_per_round)
            return
        for _ in range(self.vice_updates_per_round):
            self.last_vice_info = self.vice.update()
            self.counts['vice_updates'] += 1
        if self.vice.classifier is self.classifier:
            self.vice.calibrate()

    def vice_counts(self):
        """Return the VICE figures: updates, rounds dropped (CPU behind), last update's info."""
        if self.worker is not None:
            self.counts['vice_updates'] = self.worker.updates
            self.counts['vice_updates_dropped'] = self.worker.dropped
            self.last_vice_info = dict(self.worker.last_info)
        return self.last_vice_info

    def close(self):
        """Stop the VICE worker thread (if any) after its current step."""
        if self.worker is not None:
            self.worker.stop()

    def take_query(self, now):
        """Return the :class:`QueryCandidate` to ask about now (seconds), or None."""
        candidate = self.selector.take(now)
        if candidate is not None:
            self.counts['queries'] += 1
        return candidate

    def query_unanswered(self, candidate, reason):
        """
        Count a query nobody answered and offer its frame set again.

        :param candidate: the :class:`QueryCandidate` that was asked about.
        :param reason: 'timed_out' (no answer within the timeout) or 'skipped' (the labeller
            declined); counted as ``queries_<reason>``.
        :raises ValueError: another reason.
        """
        if reason not in ('timed_out', 'skipped'):
            raise ValueError(f'unknown reason {reason!r}: expected timed_out or skipped')
        self.counts[f'queries_{reason}'] += 1
        self.selector.observe(candidate.stamp, candidate.frames, candidate.probability)

    def add_label(self, frames, success, count=True):
        """
        Add an answered query: labelled set, and VICE positives (success) or negatives.

        :param frames: camera -> uint8 (H, W, 3) of the set asked about.
        :param success: the answer.
        :param count: count it (False for labels reloaded from an earlier run's file).
        """
        if count:
            self.counts['labels'] += 1
            self.counts['labels_success'] += int(success)
            self.counts['labels_failure'] += int(not success)
        self._labelled_frames.append(dict(frames))
        self._labels.append(bool(success))
        if self.vice is not None:
            (self.vice.add_success if success else self.vice.add_visited)(frames)

    def labelled_dataset(self):
        """Return the answered queries as a FrameDataset (one episode each), or None if none."""
        if not self._labels:
            return None
        return from_frames(self._labelled_frames, self._labels, np.arange(len(self._labels)))


def _reason(error):
    text = str(error)
    for reason in ('encoding', 'expected', 'step', 'bytes', 'zero size'):
        if reason in text:
            return {'expected': 'size'}.get(reason, reason)
    return 'other'
