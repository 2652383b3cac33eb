"""
VICE update rounds in a background thread, so that scoring frames never waits for them.

One VICE gradient step of the main job's classifier (two 128 x 128 cameras, batch 32, gradient
penalty by double backpropagation) takes ~0.4 s on one CPU thread; scoring a frame set takes
~1 ms. Run inline, every update round would hold back the reward of the step that triggered
it. The worker trains its own copy of the classifier and, every ``publish_every`` rounds,
re-chooses the threshold (:meth:`ViceTrainer.calibrate`) and copies the new weights and
threshold together into the classifier that scores frames, under the lock the scorer holds.
"""

import logging
import threading
import time

log = logging.getLogger('serl_reward.vice_worker')


class ViceWorker:
    """
    Runs :meth:`ViceTrainer.update` rounds on request, in a daemon thread.

    :param trainer: a :class:`serl_reward.vice.ViceTrainer` whose classifier is a copy of
        ``scoring`` (the worker trains it, never ``scoring`` itself).
    :param scoring: the :class:`SuccessClassifier` that scores frames; receives the trained
        weights after every round.
    :param lock: the lock held while ``scoring`` runs its network.
    :param on_round: optional callable ``(trainer)`` run in the worker thread after every
        hand-over (e.g. to save a checkpoint); an exception there is logged, not raised.
    :param max_pending: update steps waiting at most; requests beyond it are dropped and counted
        in :attr:`dropped` (the CPU cannot keep up, and a backlog would only grow).
    :param publish_every: rounds between two hand-overs of weights and threshold (a hand-over
        scores the calibration frames: ~0.3 s for 200 frame sets of two 128 x 128 cameras).
    :raises ValueError: ``trainer.classifier`` is ``scoring`` (they must be separate copies).
    """

    def __init__(self, trainer, scoring, lock, on_round=None, max_pending=16, publish_every=1):
        if trainer.classifier is scoring:
            raise ValueError('the VICE worker needs its own copy of the classifier '
                             '(copy.deepcopy(scoring))')
        self.trainer = trainer
        self.scoring = scoring
        self.lock = lock
        self.on_round = on_round
        self.max_pending = int(max_pending)
        self.publish_every = max(1, int(publish_every))
        self.published = 0
        self.dropped = 0
        self.rounds = 0
        self.last_info = {}
        self.error = None
        self._pending = 0
        self._busy = False
        self._stop = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name='vice_worker', daemon=True)
        self._thread.start()

    @property
    def updates(self):
        """Return the gradient steps taken so far (the trainer's count)."""
        return self.trainer.num_updates

    def request(self, updates):
        """Ask for ``updates`` more gradient steps (returns at once)."""
        with self._wake:
            room = max(0, self.max_pending - self._pending)
            self.dropped += max(0, updates - room)
            self._pending += min(updates, room)
            self._wake.notify()

    def wait_idle(self, timeout):
        """Wait until no requested step is left; return True if so within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._pending > 0 or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None:
                    return False
                self._wake.wait(min(left, 0.1))
        return True

    def stop(self, timeout=10.0):
        """Stop the thread after the step in progress (pending steps are dropped)."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout)

    def _run(self):
        while True:
            with self._wake:
                while self._pending == 0 and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                steps, self._pending, self._busy = self._pending, 0, True
            try:
                self._round(steps)
            except Exception as error:  # a failed round stops updates, never the scoring
                self.error = error
                log.error('VICE updates stopped: %s: %s', type(error).__name__, error)
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()
                return
            with self._wake:
                self._busy = False
                self._wake.notify_all()

    def _round(self, steps):
        if not self.trainer.ready():
            return
        for _ in range(steps):
            self.last_info = self.trainer.update()
        self.rounds += 1
        if self.rounds % self.publish_every:
            return
        self.trainer.calibrate()
        state = {k: v.detach().clone()
                 for k, v in self.trainer.classifier.net.state_dict().items()}
        with self.lock:
            self.scoring.net.load_state_dict(state)
            self.scoring.threshold = self.trainer.classifier.threshold
        self.published += 1
        calibration = self.trainer.last_calibration
        self.last_info = dict(self.last_info, threshold=self.scoring.threshold,
                              success_recall=calibration.get('success_recall', float('nan')))
        log.info('VICE hand-over %d after %d updates: threshold %.4f, success frames at or '
                 'above it %.2f, calibration frames %d', self.published,
                 self.trainer.num_updates, self.scoring.threshold,
                 calibration.get('success_recall', float('nan')),
                 calibration.get('calibration_frames', 0))
        if self.on_round is not None:
            try:
                self.on_round(self.trainer)
            except Exception as error:
                log.error('after a VICE round: %s: %s', type(error).__name__, error)
