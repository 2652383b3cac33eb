"""reward_node and label_server_node over real DDS (rclpy, Fast DDS on localhost)."""

import os
import subprocess
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from serl_msgs.msg import RewardStamped
from serl_msgs.srv import GetSuccess, QueryLabel
from serl_reward.classifier import build_net, ClassifierConfig, SuccessClassifier
from serl_reward.dataset import load_npz
from serl_reward.image_codec import fill_image
from serl_reward.label_server_node import LabelServerNode
from serl_reward.model_file import save_model
from serl_reward.reward_node import RewardNode

SIZE = 16
CONFIG = ClassifierConfig(image_keys=('front', 'wrist'), image_size=(SIZE, SIZE),
                          channels=(4,), feature_dim=8, hidden_dim=8)
TIMEOUT = 15.0


@pytest.fixture(scope='module')
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture
def model_path(tmp_path):
    path = str(tmp_path / 'model.pt')
    save_model(path, SuccessClassifier(build_net(CONFIG, seed=0), threshold=0.5))
    return path


class Harness:
    """Spins the given nodes plus a test node in a background executor."""

    def __init__(self, *nodes):
        self.node = rclpy.create_node('reward_test')
        self.executor = MultiThreadedExecutor(num_threads=3)
        self.nodes = (self.node,) + nodes
        for node in self.nodes:
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self):
        self.executor.shutdown()
        self.thread.join(timeout=5.0)
        for node in self.nodes:
            node.destroy_node()


def wait_for(condition, timeout=TIMEOUT, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def image(pixels, sec, nanosec, encoding='rgb8', frame_id='camera'):
    msg = fill_image(Image(), pixels, encoding)
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    return msg


def make_reward_node(model_path, **params):
    overrides = [Parameter('model_path', value=model_path)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return RewardNode(parameter_overrides=overrides)


def camera_publishers(node):
    pubs = {n: node.create_publisher(Image, f'/cameras/{n}/image_raw', qos_profile_sensor_data)
            for n in ('front', 'wrist')}
    wait_for(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()),
             what='reward_node to subscribe to the cameras')
    return pubs


def test_publishes_reward_with_the_newest_frame_stamp(ros, model_path):
    reward_node = make_reward_node(model_path)
    assert reward_node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    reward_node.trigger_activate()
    harness = Harness(reward_node)
    try:
        received = []
        harness.node.create_subscription(RewardStamped, '/reward', received.append, 10)
        pubs = camera_publishers(harness.node)
        frame = np.random.default_rng(0).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
        # Frames of one set 5 ms apart (within sync_tolerance 0.02 s); wrist is newer.
        stamps = [((7, 100_000_000), (7, 105_000_000)), ((8, 0), (8, 5_000_000))]

        def published():
            return {(m.header.stamp.sec, m.header.stamp.nanosec) for m in received}

        for front_stamp, wrist_stamp in stamps:
            deadline = time.monotonic() + TIMEOUT
            while wrist_stamp not in published() and time.monotonic() < deadline:
                pubs['front'].publish(image(frame, *front_stamp, frame_id='front_optical'))
                pubs['wrist'].publish(image(frame[:, :, ::-1].copy(), *wrist_stamp, 'bgr8',
                                            'wrist_optical'))
                time.sleep(0.05)
            assert wrist_stamp in published(), f'no reward stamped {wrist_stamp}'
        message = next(m for m in received if m.header.stamp.sec == 8)
        assert message.header.frame_id == 'wrist_optical'
        expected = reward_node.pipeline.classifier.probability(
            {'front': frame, 'wrist': frame})[0]
        assert message.probability == pytest.approx(expected, abs=1e-5)
        assert message.reward == float(message.probability > 0.5)
        assert message.success == (message.probability > 0.5)
        assert len(published()) == 2  # each stamp once
    finally:
        harness.close()


def test_bad_frames_are_skipped_and_counted(ros, model_path):
    reward_node = make_reward_node(model_path)
    reward_node.trigger_configure()
    reward_node.trigger_activate()
    harness = Harness(reward_node)
    try:
        received, diagnostics = [], []
        harness.node.create_subscription(RewardStamped, '/reward', received.append, 10)
        harness.node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
        pubs = camera_publishers(harness.node)
        counts = reward_node.pipeline.counts
        wrong_size = image(np.zeros((SIZE + 2, SIZE, 3), np.uint8), 3, 0)
        wrong_encoding = Image(height=SIZE, width=SIZE, encoding='16UC1', step=2 * SIZE,
                               data=bytes(2 * SIZE * SIZE))
        wrong_encoding.header.stamp.sec = 3
        deadline = time.monotonic() + TIMEOUT
        while counts['frames_skipped'] < 2 and time.monotonic() < deadline:
            if reward_node.pipeline.skipped['size'] == 0:
                pubs['front'].publish(wrong_size)
            if reward_node.pipeline.skipped['encoding'] == 0:
                pubs['wrist'].publish(wrong_encoding)
            time.sleep(0.05)
        # a loaded machine may deliver a second copy before the first was counted
        skipped = dict(reward_node.pipeline.skipped)
        assert skipped['size'] >= 1 and skipped['encoding'] >= 1, skipped
        assert counts['frames_skipped'] == skipped['size'] + skipped['encoding']
        assert counts['rewards'] == 0 and not received

        total = str(counts['frames_skipped'])

        def reported():
            for array in diagnostics:
                values = {kv.key: kv.value for kv in array.status[0].values}
                if values.get('frames_skipped') == total:
                    return values
            return None
        wait_for(lambda: reported() is not None, what=f'/diagnostics reporting {total} skipped')
        assert reported()['skipped_size'] == str(skipped['size'])
        assert reported()['skipped_encoding'] == str(skipped['encoding'])
    finally:
        harness.close()


def test_configure_fails_naming_a_missing_or_corrupt_model(ros, tmp_path):
    missing = str(tmp_path / 'no_such_model.pt')
    node = make_reward_node(missing)
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    node.destroy_node()
    corrupt = tmp_path / 'corrupt_model.pt'
    corrupt.write_bytes(b'\x80\x02 truncated pickle')
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, '-m', 'serl_reward.reward_node', '--ros-args', '-p',
         f'model_path:={corrupt}'], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'corrupt_model.pt' in result.stderr and 'configure failed' in result.stderr


def test_active_query_answer_joins_the_labelled_set(ros, model_path, tmp_path):
    labels_path = str(tmp_path / 'queries.npz')
    reward_node = make_reward_node(model_path, query_interval=0.3, labels_path=labels_path)
    reward_node.trigger_configure()
    reward_node.trigger_activate()
    harness = Harness(reward_node)
    try:
        requests = []

        def answer(request, response):
            requests.append(request)
            response.answered, response.success = True, True
            return response
        harness.node.create_service(QueryLabel, '/reward/query_label', answer)
        pubs = camera_publishers(harness.node)
        frame = np.full((SIZE, SIZE, 3), 90, np.uint8)
        wait_for(lambda: reward_node.query_client.service_is_ready(), what='query service')
        sec = 1
        deadline = time.monotonic() + TIMEOUT
        while reward_node.pipeline.counts['labels'] == 0 and time.monotonic() < deadline:
            pubs['front'].publish(image(frame, sec, 0))
            pubs['wrist'].publish(image(frame, sec, 0))
            sec += 1
            time.sleep(0.05)
        assert reward_node.pipeline.counts['labels'] == 1
        request = requests[0]
        assert list(request.image_names) == ['front', 'wrist']
        assert request.images[0].encoding == 'rgb8' and request.images[0].height == SIZE
        assert 0.0 <= request.probability <= 1.0
        wait_for(lambda: os.path.exists(labels_path), what='labels file')
        saved = load_npz(labels_path)
        assert len(saved) == 1 and saved.labels[0]
        assert np.array_equal(saved.images['front'][0], frame)
    finally:
        harness.close()


def _sim_ground_truth(node, success=True, start=5.0):
    """
    Serve /sim/get_success as the sim does: answers dated in sim time.

    The stamps are ``start`` + 1 ms per call, far from the wall clock the test's nodes run on.
    """
    calls = []

    def answer(request, response):
        calls.append(None)
        seconds = start + 0.001 * len(calls)
        response.header.stamp.sec = int(seconds)
        response.header.stamp.nanosec = int((seconds % 1.0) * 1e9)
        response.success = success
        return response
    return node.create_service(GetSuccess, '/sim/get_success', answer)


def test_label_server_answers_from_sim_ground_truth(ros):
    server = LabelServerNode(parameter_overrides=[Parameter('poll_period', value=0.02)])
    harness = Harness(server)
    try:
        _sim_ground_truth(harness.node, success=True, start=5.0)
        wait_for(lambda: len(server.history) > 0, what='ground-truth polls')
        client = harness.node.create_client(QueryLabel, '/reward/query_label')
        assert client.wait_for_service(timeout_sec=TIMEOUT)
        request = QueryLabel.Request()
        request.header.stamp.sec = 5   # sim time of the first answers
        response = client.call(request, timeout_sec=TIMEOUT)
        assert response.answered and response.success
        # the answers are dated by the sim's stamps, not by when they arrived (wall clock)
        request.header.stamp = harness.node.get_clock().now().to_msg()
        response = client.call(request, timeout_sec=TIMEOUT)
        assert not response.answered
    finally:
        harness.close()


def test_label_server_polls_again_after_a_lost_response(ros):
    """A /sim/get_success request that is never answered must not stop the polling."""
    server = LabelServerNode(parameter_overrides=[Parameter('poll_period', value=0.02),
                                                  Parameter('poll_timeout', value=0.3)])
    harness = Harness(server)
    silent = rclpy.create_node('silent_sim')  # never spun: its requests are never answered
    try:
        silent.create_service(GetSuccess, '/sim/get_success', lambda request, response: response)
        wait_for(lambda: server._pending is not None, what='a poll sent to the silent server')
        silent.destroy_node()   # the request is lost with it
        silent = None
        _sim_ground_truth(harness.node)
        wait_for(lambda: len(server.history) > 0, what='ground truth after the lost poll')
        assert server.polls_abandoned >= 1
    finally:
        if silent is not None:
            silent.destroy_node()
        harness.close()


def _publish_until(pubs, condition, what, frame=None):
    """Publish synchronised frame sets (10 per second of stamps) until ``condition()``."""
    frame = np.full((SIZE, SIZE, 3), 90, np.uint8) if frame is None else frame
    deadline = time.monotonic() + TIMEOUT
    sec = 1
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {TIMEOUT} s waiting for {what}')
        pubs['front'].publish(image(frame, sec, 0))
        pubs['wrist'].publish(image(frame, sec, 0))
        sec += 1
        time.sleep(0.05)


def test_a_query_nobody_answers_times_out_is_asked_again_and_a_late_answer_is_refused(
        ros, model_path):
    reward_node = make_reward_node(model_path, query_interval=0.2, query_timeout=0.4)
    reward_node.trigger_configure()
    reward_node.trigger_activate()
    harness = Harness(reward_node)
    try:
        asked = []

        def answer(request, response):
            asked.append(time.monotonic())
            if len(asked) == 1:   # nobody at the keyboard: answers long after the timeout
                time.sleep(1.0)
            response.answered, response.success = True, False
            return response
        harness.node.create_service(QueryLabel, '/reward/query_label', answer)
        pubs = camera_publishers(harness.node)
        wait_for(lambda: reward_node.query_client.service_is_ready(), what='query service')
        counts = reward_node.pipeline.counts
        _publish_until(pubs, lambda: counts['labels'] >= 1 and counts['answers_refused'] >= 1,
                       'an answered query after a refused late answer')
        assert counts['queries_timed_out'] >= 1 and counts['queries'] >= 2
        assert counts['labels_failure'] == counts['labels']   # the answers said "failure"
    finally:
        harness.close()


def test_vice_updates_run_beside_scoring_and_a_restarted_node_resumes_them(
        ros, model_path, tmp_path):
    from serl_reward.dataset import from_frames, save_npz
    from serl_reward.model_file import load_model
    success = {k: np.full((SIZE, SIZE, 3), 220, np.uint8) for k in CONFIG.image_keys}
    positives = str(tmp_path / 'success.npz')
    save_npz(positives, from_frames([success] * 3, np.array([True] * 3), np.arange(3)))
    vice_model = str(tmp_path / 'vice.pt')
    params = {'vice_update_interval': 2, 'vice_updates_per_round': 2, 'vice_batch_size': 4,
              'vice_success_data': [positives], 'vice_model_path': vice_model,
              'vice_save_period': 0.0}
    reward_node = make_reward_node(model_path, **params)
    assert reward_node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    reward_node.trigger_activate()
    harness = Harness(reward_node)
    try:
        pubs = camera_publishers(harness.node)
        pipeline = reward_node.pipeline
        _publish_until(pubs, lambda: pipeline.vice_counts() and
                       pipeline.counts['vice_updates'] >= 4, 'four VICE updates')
        assert pipeline.counts['rewards'] >= 4
    finally:
        harness.close()   # destroys the node: stops the worker, saves the classifier
    saved, metrics = load_model(vice_model)
    updates = metrics['counts']['vice_updates']
    assert updates >= 4
    again = make_reward_node(model_path, **params)
    try:
        assert again.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert again.pipeline.counts['vice_updates'] == updates == again.pipeline.vice.num_updates
        for a, b in zip(again.pipeline.classifier.net.parameters(), saved.net.parameters()):
            assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    finally:
        again.destroy_node()
