"""
``reward_node``: success reward from camera images (lifecycle node).

Subscribes to the camera topics (``sensor_msgs/Image``, rgb8 / bgr8 / mono8), scores every
stamp-synchronised set of frames with the success classifier loaded from ``model_path`` and
publishes ``/reward`` (``serl_msgs/RewardStamped``, header = the newest frame's header; success
once ``success_frames`` consecutive sets are above the threshold). Active
label queries (RAQ) go to ``/reward/query_label``; answers are saved to ``labels_path`` and,
with VICE updates on, join the classifier's training data. A query nobody answers within
``query_timeout`` is counted and its frames are offered again; an answer that comes after its
query timed out is refused with a warning (the node no longer holds those frames).

VICE (``vice_update_interval`` > 0): the classifier is updated while RL runs, with the success
frames of ``vice_success_data`` (and answered successes) as positives and the frame sets the
node scores (the states the policy visits) as negatives, in a background thread; the updated
classifier and the node's counts are saved to ``vice_model_path`` every ``vice_save_period``
seconds and at shutdown, and a restarted node resumes from that file (and reloads
``labels_path``). All logic lives in :class:`serl_reward.reward_pipeline.RewardPipeline`; this
module translates messages and parameters.

Lifecycle: configure loads the model (a missing or corrupt file fails the transition with a
message naming the file), activate starts scoring. With ``autostart`` (default) the node
configures and activates itself, and exits with status 1 when configuring fails.
"""

import copy
import os
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.lifecycle import Node, TransitionCallbackReturn
from sensor_msgs.msg import Image
from serl_common import qos
from serl_common.node_main import run_node
from serl_msgs.msg import RewardStamped
from serl_msgs.srv import QueryLabel
from serl_reward.bag_frames import BagReadError, read_labelled_frames
from serl_reward.dataset import DatasetError, load_npz, save_npz
from serl_reward.image_codec import fill_image, ImageFormatError
from serl_reward.model_file import load_model, ModelFileError, save_model
from serl_reward.reward_pipeline import RewardPipeline
from serl_reward.vice import ViceConfig, ViceTrainer
import torch

PARAMETERS = {
    'model_path': '',
    'image_names': [''],
    'image_topics': [''],
    'mode': 'sparse',
    'threshold': -1.0,
    'sync_tolerance': 0.02,
    'success_frames': 1,
    'query_interval': 0.0,
    'query_min_probability': 0.0,
    'query_timeout': 60.0,
    'labels_path': '',
    'vice_success_data': [''],
    'vice_update_interval': 0,
    'vice_updates_per_round': 1,
    'vice_learning_rate': 3e-4,
    'vice_batch_size': 32,
    'vice_mixup_alpha': 1.0,
    'vice_label_smoothing': 0.2,
    'vice_gradient_penalty': 0.1,
    'vice_target_fpr': 0.001,
    'vice_publish_every': 4,
    'vice_model_path': '',
    'vice_save_period': 30.0,
    'torch_threads': 1,
    'autostart': True,
}


class RewardNode(Node):
    """Lifecycle node around :class:`RewardPipeline`; see the module docstring."""

    def __init__(self, **kwargs):
        super().__init__('reward_node', **kwargs)
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        self.pipeline = None
        self._active = False
        self._camera_subscriptions = []
        self._pending_query = None
        self._expired_queries = []   # futures of queries that timed out, newest last
        self._last_vice_save = 0.0
        self._diagnostics_timer = self._query_timer = self._query_deadline = None
        self.reward_publisher = self.diagnostics_publisher = self.query_client = None

    def param(self, name):
        """Return the value of parameter ``name``; string lists drop empty entries."""
        value = self.get_parameter(name).value
        if isinstance(value, list):
            return [v for v in value if v != '']
        return value

    # ---- lifecycle ---------------------------------------------------------------------

    def on_configure(self, state):
        """Load the model and parameters; create publishers, subscriptions and the client."""
        try:
            self.pipeline = self._build_pipeline()
        except (ModelFileError, ValueError, BagReadError, DatasetError) as error:
            self.get_logger().error(f'configure failed: {error}')
            self.pipeline = None
            return TransitionCallbackReturn.FAILURE
        names = self.pipeline.names
        topics = self.param('image_topics') or [f'/cameras/{n}/image_raw' for n in names]
        self.reward_publisher = self.create_publisher(RewardStamped, '/reward', qos.RELIABLE)
        self.diagnostics_publisher = self.create_publisher(DiagnosticArray, '/diagnostics',
                                                           qos.RELIABLE)
        self._camera_subscriptions = [
            self.create_subscription(Image, topic, self._image_callback(name),
                                     qos.SENSOR)
            for name, topic in zip(names, topics)]
        self.query_client = self.create_client(QueryLabel, '/reward/query_label')
        self._diagnostics_timer = self.create_timer(1.0, self._publish_diagnostics)
        if self.pipeline.selector.enabled:
            period = min(1.0, self.pipeline.selector.interval / 2)
            self._query_timer = self.create_timer(period, self._maybe_query)
        classifier = self.pipeline.classifier
        self.get_logger().info(
            f'configured: model {self.param("model_path")}, cameras {dict(zip(names, topics))}, '
            f'mode {self.pipeline.mode}, threshold {classifier.threshold:.4f}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        """Start scoring frames."""
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state):
        """Stop scoring frames (images arriving meanwhile are dropped)."""
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        """Release everything ``on_configure`` created."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        """Save answered queries and the VICE classifier; release resources."""
        self.save_labels()
        self._stop_vice()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    # ---- configuration -----------------------------------------------------------------

    def _build_pipeline(self):
        torch.set_num_threads(max(1, int(self.param('torch_threads'))))
        path = self.param('model_path')
        interval = int(self.param('vice_update_interval'))
        resume = self.param('vice_model_path')
        restored = {}
        if interval > 0 and resume and os.path.isfile(resume):
            classifier, metrics = load_model(resume)
            restored = dict(metrics.get('counts', {}))
            self.get_logger().info(f'VICE: resuming the classifier of an earlier run from '
                                   f'{resume} ({restored.get("vice_updates", 0)} updates)')
            path = resume
        else:
            classifier, _ = load_model(path)
        threshold = float(self.param('threshold'))
        if threshold >= 0.0:
            if threshold > 1.0:
                raise ValueError(f'threshold must be in [0, 1] (or < 0 for the model file '
                                 f'threshold), got {threshold}')
            classifier.threshold = threshold
        names = self.param('image_names')
        if names and list(names) != list(classifier.config.image_keys):
            raise ValueError(f'image_names {names} differ from the cameras of model {path}: '
                             f'{list(classifier.config.image_keys)}')
        topics = self.param('image_topics')
        if topics and len(topics) != len(classifier.config.image_keys):
            raise ValueError(f'{len(topics)} image_topics for '
                             f'{len(classifier.config.image_keys)} cameras')
        vice = None
        if interval > 0:
            # the worker trains a copy; the scoring classifier receives its weights
            vice = ViceTrainer(copy.deepcopy(classifier), ViceConfig(
                batch_size=int(self.param('vice_batch_size')),
                learning_rate=float(self.param('vice_learning_rate')),
                mixup_alpha=float(self.param('vice_mixup_alpha')),
                label_smoothing=float(self.param('vice_label_smoothing')),
                gradient_penalty=float(self.param('vice_gradient_penalty')),
                target_fpr=float(self.param('vice_target_fpr'))))
            vice.num_updates = int(restored.get('vice_updates', 0))
            self._load_vice_positives(vice)
        pipeline = RewardPipeline(
            classifier, mode=self.param('mode'),
            sync_tolerance=float(self.param('sync_tolerance')),
            success_frames=int(self.param('success_frames')),
            query_interval=float(self.param('query_interval')),
            query_min_probability=float(self.param('query_min_probability')),
            vice_trainer=vice, vice_update_interval=interval,
            vice_updates_per_round=int(self.param('vice_updates_per_round')),
            vice_background=True, on_vice_round=self._vice_round_done,
            vice_publish_every=int(self.param('vice_publish_every')))
        pipeline.counts.update({k: int(v) for k, v in restored.items()
                                if isinstance(v, (int, float))})
        self._reload_labels(pipeline)
        return pipeline

    def _reload_labels(self, pipeline):
        """Answered queries of an earlier run (``labels_path``) join the labelled set again."""
        path = self.param('labels_path')
        if not path or not os.path.isfile(path):
            return
        keys, size = pipeline.names, pipeline.size
        data = load_npz(path).select_keys(keys, size)
        for i, label in enumerate(data.labels):
            pipeline.add_label({k: data.images[k][i] for k in keys}, bool(label), count=False)
        self.get_logger().info(f'{len(data)} answered queries of an earlier run reloaded from '
                               f'{path}')

    def _vice_round_done(self, trainer):
        """Worker thread, after a VICE round: save the classifier every vice_save_period s."""
        now = time.monotonic()
        if now - self._last_vice_save >= float(self.param('vice_save_period')):
            self._last_vice_save = now
            self._save_vice(trainer)

    def _save_vice(self, trainer):
        path = self.param('vice_model_path')
        if path and self.pipeline is not None:
            self.pipeline.vice_counts()
            save_model(path, trainer.classifier,
                       metrics={'counts': {k: int(v) for k, v in self.pipeline.counts.items()}})

    def _stop_vice(self):
        """Stop the VICE worker and save its classifier (if VICE runs)."""
        if self.pipeline is not None and self.pipeline.worker is not None:
            self.pipeline.close()
            self._save_vice(self.pipeline.vice)

    def _load_vice_positives(self, vice):
        keys, size = vice.classifier.config.image_keys, vice.classifier.config.image_size
        sources = self.param('vice_success_data')
        if not sources:
            raise ValueError('vice_update_interval > 0 needs vice_success_data (bags or .npz '
                             'files with success frames)')
        for source in sources:
            if source.endswith('.npz'):
                data = load_npz(source).select_keys(keys, size)
            else:
                data = read_labelled_frames([source], keys, size)
            success = data.subset(data.labels)
            vice.add_successes(success.images)
            # the frames before success: states a policy (the demonstrator) visited, so VICE
            # negatives; every third episode's are held out to re-choose the threshold
            held_out = ~data.labels & (data.episodes % 3 == 2)
            visited = ~data.labels & ~held_out
            if visited.any():
                vice.add_visited_many(data.subset(visited).images)
            if held_out.any():
                vice.add_calibration(data.subset(held_out).images)
            self.get_logger().info(
                f'VICE: {len(success)} success frames (positives), {int(visited.sum())} frames '
                f'before success (negatives) and {int(held_out.sum())} held out for the '
                f'threshold, from {source}')
        if len(vice.positives) == 0:
            raise ValueError(f'no success frames in vice_success_data {sources}')

    def _release(self):
        self._active = False
        for subscription in self._camera_subscriptions:
            self.destroy_subscription(subscription)
        self._camera_subscriptions = []
        for timer in (self._diagnostics_timer, self._query_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._diagnostics_timer = self._query_timer = None
        if self.query_client is not None:
            self.destroy_client(self.query_client)
        for publisher in (self.reward_publisher, self.diagnostics_publisher):
            if publisher is not None:
                self.destroy_publisher(publisher)
        self.reward_publisher = self.diagnostics_publisher = self.query_client = None

    # ---- data path ---------------------------------------------------------------------

    def _image_callback(self, name):
        def callback(msg):
            if not self._active or self.pipeline is None:
                return
            try:
                result = self.pipeline.add_image(name, msg)
            except ImageFormatError as error:
                self.get_logger().error(
                    f'camera {name}: frame skipped: {error} '
                    f'({self.pipeline.counts["frames_skipped"]} skipped so far)',
                    throttle_duration_sec=2.0)
                return
            if result is None:
                return
            out = RewardStamped()
            out.header.stamp.sec, out.header.stamp.nanosec = result.stamp
            out.header.frame_id = result.frame_id
            out.probability = float(result.probability)
            out.reward = float(result.reward)
            out.success = bool(result.success)
            self.reward_publisher.publish(out)
        return callback

    def _maybe_query(self):
        if not self._active or self._pending_query is not None:
            return
        now = self.get_clock().now().nanoseconds * 1e-9
        candidate = self.pipeline.take_query(now)
        if candidate is None:
            return
        if not self.query_client.service_is_ready():
            self.get_logger().warn('label query skipped: no /reward/query_label service',
                                   throttle_duration_sec=30.0)
            return
        request = QueryLabel.Request()
        request.header.stamp.sec, request.header.stamp.nanosec = candidate.stamp
        request.image_names = list(candidate.frames)
        request.images = [fill_image(Image(), v, 'rgb8') for v in candidate.frames.values()]
        for image in request.images:
            image.header = request.header
        request.probability = float(candidate.probability)
        future = self.query_client.call_async(request)
        self._pending_query = (future, candidate, now)
        future.add_done_callback(self._query_answered)
        self._query_deadline = self.create_timer(float(self.param('query_timeout')),
                                                 self._query_timed_out)

    def _query_answered(self, future):
        if future in self._expired_queries:
            self._expired_queries.remove(future)
            self.pipeline.counts['answers_refused'] += 1
            self.get_logger().warn(
                'label answer refused: it came after its query timed out, and the node no '
                'longer holds those frames (the frames are asked about again)')
            return
        if self._pending_query is None or future is not self._pending_query[0]:
            return
        _, candidate, _ = self._pending_query
        self._end_query()
        try:
            response = future.result()
        except Exception as error:  # a failed service call must not stop the node
            self.get_logger().error(f'label query failed: {error}')
            self.pipeline.query_unanswered(candidate, 'skipped')
            return
        if not response.answered:
            self.get_logger().info('label query not answered (asked again later)')
            self.pipeline.query_unanswered(candidate, 'skipped')
            return
        self.pipeline.add_label(candidate.frames, response.success)
        self.get_logger().info(
            f'label query answered: success={response.success} for p={candidate.probability:.3f}'
            f' ({self.pipeline.counts["labels"]} labels)')
        self.save_labels()

    def _query_timed_out(self):
        if self._pending_query is not None:
            future, candidate, _ = self._pending_query
            self._end_query()
            self.pipeline.query_unanswered(candidate, 'timed_out')
            # a late answer is recognised and refused (kept for the last few queries only)
            self._expired_queries.append(future)
            while len(self._expired_queries) > 8:
                self.query_client.remove_pending_request(self._expired_queries.pop(0))
            self.get_logger().warn(
                f'label query timed out after {self.param("query_timeout"):.0f} s '
                f'({self.pipeline.counts["queries_timed_out"]} so far; asked again later)')

    def _end_query(self):
        self._pending_query = None
        if self._query_deadline is not None:
            self.destroy_timer(self._query_deadline)
            self._query_deadline = None

    def destroy_node(self):
        """Save the answered queries and the VICE classifier, then destroy the node."""
        self.save_labels()
        self._stop_vice()
        super().destroy_node()

    def save_labels(self):
        """Write the answered queries to ``labels_path`` (if set and any)."""
        path = self.param('labels_path') if self.pipeline is not None else ''
        data = self.pipeline.labelled_dataset() if path else None
        if data is not None:
            save_npz(path, data)

    def _publish_diagnostics(self):
        vice_info = self.pipeline.vice_counts()   # brings the worker's counts up to date
        counts = self.pipeline.counts
        status = DiagnosticStatus(name=f'{self.get_name()}: reward classifier',
                                  hardware_id='reward')
        skipped = counts['frames_skipped']
        status.level = DiagnosticStatus.WARN if skipped else DiagnosticStatus.OK
        status.message = (f'{counts["rewards"]} rewards, {skipped} frames skipped'
                          if self._active else 'inactive')
        worker = self.pipeline.worker
        if worker is not None and worker.error is not None:
            status.level = DiagnosticStatus.ERROR
            status.message += f'; VICE updates stopped: {worker.error}'
        values = dict(counts)
        values.update({f'skipped_{k}': v for k, v in self.pipeline.skipped.items()})
        values.update({f'vice_{k}': round(v, 4) for k, v in vice_info.items()})
        status.values = [KeyValue(key=k, value=str(v)) for k, v in sorted(values.items())]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_publisher.publish(array)


def main(args=None) -> int:
    """Run the reward node; exit status 1 when autostart cannot configure it."""
    def autostart(node):
        if node.get_parameter('autostart').value:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise RuntimeError('reward_node could not be configured (see the error above)')
            node.trigger_activate()

    return run_node(RewardNode, args, on_start=autostart, fatal_errors=(RuntimeError,))


if __name__ == '__main__':
    sys.exit(main())
