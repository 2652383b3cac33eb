"""
``label_server_node``: answers ``/reward/query_label`` from the simulator's ground truth.

Polls ``/sim/get_success`` (``serl_msgs/GetSuccess``) every ``poll_period`` seconds (wall
clock) and keeps each answer with the simulated time it carries (``header.stamp``: the time of
the state the sim judged, the time base of the camera stamps). A query about frames stamped t
is answered with the ground truth sampled nearest to t, if one lies within ``tolerance``
seconds; otherwise it is not answered (``answered = false``). ``history_s`` seconds of ground
truth are kept (as runs of equal values, a few kilobytes per hour), so a query re-asked long
after its frames were taken is still answered. Sim only: a real robot has no ground truth (use
``serl_label_cli``).

The node needs no clock of the sim's: until 2026-12-07 it ran on ``use_sim_time`` and stamped
each answer with its own clock on arrival, which cost ~40 % of a core for the 500 Hz ``/clock``
stream and misdated answers by the service's latency on a loaded machine.
"""

import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from serl_common.node_main import run_node
from serl_msgs.srv import GetSuccess, QueryLabel
from serl_reward.label_history import LabelHistory


def _seconds(stamp) -> float:
    """Return a ``builtin_interfaces/Time`` (sim time here) as seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


class LabelServerNode(Node):
    """Ground-truth label server for RAQ in simulation."""

    def __init__(self, **kwargs):
        super().__init__('label_server_node', **kwargs)
        self.declare_parameter('poll_period', 0.05)
        self.declare_parameter('tolerance', 0.1)
        # seconds of ground truth kept: RAQ re-asks unanswered queries about older frames
        self.declare_parameter('history_s', 3600.0)
        self.history = LabelHistory(
            self.get_parameter('history_s').value,
            max_gap=max(2.0 * self.get_parameter('tolerance').value,
                        2.0 * self.get_parameter('poll_period').value))
        # a poll not answered within poll_timeout seconds (wall clock) is abandoned and sent
        # again: a lost response must not stop the polling (and the answers) for good
        self.declare_parameter('poll_timeout', 1.0)
        self.answered = 0
        self.polls_abandoned = 0
        self._pending, self._pending_since = None, 0.0
        poll_group = MutuallyExclusiveCallbackGroup()
        self.client = self.create_client(GetSuccess, '/sim/get_success',
                                         callback_group=poll_group)
        self.create_timer(self.get_parameter('poll_period').value, self._poll,
                          callback_group=poll_group)
        self.create_service(QueryLabel, '/reward/query_label', self._answer,
                            callback_group=MutuallyExclusiveCallbackGroup())

    def _poll(self):
        if self._pending is not None:
            if time.monotonic() - self._pending_since < self.get_parameter('poll_timeout').value:
                return
            self.client.remove_pending_request(self._pending)
            self._pending = None
            self.polls_abandoned += 1
            self.get_logger().warn(f'/sim/get_success did not answer within '
                                   f'{self.get_parameter("poll_timeout").value} s; asking again '
                                   f'({self.polls_abandoned} abandoned)',
                                   throttle_duration_sec=10.0)
        if not self.client.service_is_ready():
            return
        self._pending_since = time.monotonic()
        self._pending = self.client.call_async(GetSuccess.Request())
        self._pending.add_done_callback(self._polled)

    def _polled(self, future):
        if future is not self._pending:  # abandoned: a newer poll is under way
            return
        self._pending = None
        try:
            result = future.result()
        except Exception as error:  # a failed poll is retried by the timer
            self.get_logger().warn(f'/sim/get_success failed: {error}',
                                   throttle_duration_sec=10.0)
            return
        self.history.add(_seconds(result.header.stamp), result.success)

    def _answer(self, request, response):
        stamp = _seconds(request.header.stamp)
        label = self.history.lookup(stamp, self.get_parameter('tolerance').value)
        response.answered = label is not None
        response.success = bool(label)
        if label is None:
            self.get_logger().warn(f'no ground truth within tolerance of t={stamp:.3f} s '
                                   f'({len(self.history)} runs of equal ground truth held)')
        else:
            self.answered += 1
            self.get_logger().info(f'query at t={stamp:.3f} s (p={request.probability:.3f}): '
                                   f'success={label}')
        return response


def main(args=None) -> int:
    """Run the label server (two executor threads: polling and answering run in parallel)."""
    return run_node(LabelServerNode, args,
                    make_executor=lambda: MultiThreadedExecutor(num_threads=2))


if __name__ == '__main__':
    main()
