"""
``demo_recorder``: record ``/serl/transitions`` into MCAP bags, one complete bag per episode.

Takes the transitions as raw CDR (written to the bag unchanged) and hands them to
:class:`serl_agent.data.bag_io.EpisodeBagWriter`: an episode's bag is closed, fsync'ed and renamed
into place when its last transition (terminated or truncated) arrives, so a crash loses at most
the episodes still being recorded; Ctrl-C also keeps those (suffix ``_incomplete``). An
episode the actor aborted (e.g. on a stale robot state) is kept as ``_incomplete`` as soon as
that actor's next episode starts. Duplicates (an actor re-sending after a missing
acknowledgement) are dropped by ``(actor_id, sequence)``, and so are late transitions of an
episode whose bag is closed: no episode is written twice. With ``acknowledge: true`` it
acknowledges each actor's transitions on ``/serl/transition_ack`` once their episode is on disk
(use it when no learner runs). ``success_hold_steps`` must equal the actor's (demos that hold
their success carry that many terminal transitions after the first; see
:class:`serl_agent.data.bag_io.EpisodeBagWriter`).
Parameters: ``config/demos.yaml``.
"""

from rclpy.node import Node

from serl_agent.data.bag_io import EpisodeBagWriter, make_typestore, TRANSITION_TYPE
from serl_common import qos
from serl_common.node_main import run_node
from serl_msgs.msg import Transition, TransitionAck


class DemoRecorderNode(Node):
    """Record transitions per episode; see the module docstring."""

    def __init__(self):
        super().__init__('demo_recorder')
        self.declare_parameter('topics', ['/serl/transitions'])
        self.declare_parameter('output', 'bags/demos')
        self.declare_parameter('storage', 'mcap')
        self.declare_parameter('acknowledge', False)
        self.declare_parameter('success_hold_steps', 0)
        topics = [t for t in self.get_parameter('topics').value if t]
        output = self.get_parameter('output').value
        storage = self.get_parameter('storage').value
        self.acknowledge = self.get_parameter('acknowledge').value
        self.typestore = make_typestore()
        self.writer = EpisodeBagWriter(
            output, storage=storage, typestore=self.typestore,
            success_hold_steps=self.get_parameter('success_hold_steps').value)
        self.actors = set()
        self.episodes = 0
        self.ack_pub = self.create_publisher(TransitionAck, '/serl/transition_ack',
                                             qos.RELIABLE)
        for topic in topics:
            self.create_subscription(Transition, topic, self._on_transition,
                                     qos.TRANSITIONS, raw=True)
        if self.acknowledge:
            self.create_timer(1.0, self._republish_acks)
        self.get_logger().info(f'recording {topics} into {self.writer.directory} ({storage}), '
                               'one bag per episode')

    def _on_transition(self, data: bytes) -> None:
        msg = self.typestore.deserialize_cdr(bytes(data), TRANSITION_TYPE)
        actor = str(msg.actor_id)
        self.actors.add(actor)
        stamp = self.get_clock().now().nanoseconds
        closed, late = len(self.writer.completed), self.writer.late
        finished = self.writer.write_cdr(data, stamp, msg)
        for path in self.writer.completed[closed:]:
            if path != finished:
                self.get_logger().warn(f'{actor} started episode {msg.episode} without ending '
                                       f'the previous one (aborted): kept as {path}')
        if self.writer.late > late:
            self.get_logger().warn(f'{actor}: transition {msg.sequence} of episode '
                                   f'{msg.episode} arrived after its bag was closed: dropped')
        if finished is not None:
            self.episodes += 1
            self.get_logger().info(f'episode {self.episodes} written: {finished}')
        if self.acknowledge and (len(self.writer.completed) > closed
                                 or self.writer.late > late):
            self._ack(actor)

    def _ack(self, actor: str) -> None:
        seq = self.writer.durable_sequence(actor)
        if seq:
            msg = TransitionAck(actor_id=actor, sequence=seq)
            msg.header.stamp = self.get_clock().now().to_msg()
            self.ack_pub.publish(msg)

    def _republish_acks(self) -> None:
        for actor in sorted(self.actors):
            self._ack(actor)

    def destroy_node(self):
        """Close the recording (unfinished episodes kept as ``*_incomplete``)."""
        paths = self.writer.close()
        self.get_logger().info(f'{len(paths)} bags in {self.writer.directory}')
        super().destroy_node()


def main(args=None):
    """Record until Ctrl-C."""
    return run_node(DemoRecorderNode, args)


if __name__ == '__main__':
    main()
