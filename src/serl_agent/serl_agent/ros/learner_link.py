"""
The actor's link to one learner: transitions out, acknowledgements and policy weights in.

An actor has one link (``/serl/transitions``, ``/serl/transition_ack``,
``/serl/policy_weights``), or one per direction in forward-backward training
(``/serl/<direction>/...``, each to that direction's learner). A link keeps every transition it
sent in a bounded outbox until an acknowledgement covers it, re-sends what stays
unacknowledged, and with a spool directory keeps it on disk too
(:mod:`serl_agent.data.actor_spool`), re-sending what a crashed actor process left there.
"""

import threading
import time
from typing import Dict, List, Optional

from rclpy.node import Node

from serl_agent.data.acknowledgement import Outbox
from serl_agent.data.actor_spool import ActorSpool
from serl_agent.data.policy_io import decode_policy
from serl_agent.runtime.policy_slot import PolicySlot
from serl_common import qos
from serl_msgs.msg import PolicyWeights, Transition, TransitionAck


def topic_prefix(direction: str) -> str:
    """Return the learner topics' prefix of ``direction`` ('' -> ``/serl``)."""
    return f'/serl/{direction}' if direction else '/serl'


class LearnerLink:
    """
    Transitions to one learner and its weights back.

    :param node: the actor node (publishers, subscriptions and logging).
    :param actor_id: the id in every transition and acknowledgement of this actor process.
    :param direction: '' for the one learner of an actor, else the direction whose learner
        this link reaches (topics under ``/serl/<direction>/``).
    :param outbox_capacity: unacknowledged transitions kept; beyond, the oldest is dropped.
    :param spool_dir: directory of the on-disk copy of the outbox ('' = memory only).
    :param weights: subscribe to the learner's policy weights (an actor with a scripted policy
        needs none).
    """

    def __init__(self, node: Node, actor_id: str, direction: str = '',
                 outbox_capacity: int = 20000, spool_dir: str = '', weights: bool = True):
        self.node = node
        self.actor_id = actor_id
        self.direction = direction
        self.slot = PolicySlot()
        self.lock = threading.Lock()
        self.outbox = Outbox(outbox_capacity)
        # outboxes of earlier (crashed) actor processes found in the spool directory
        self.leftover: Dict[str, Outbox] = {}
        self.spool: Optional[ActorSpool] = None
        self.spool_dir = spool_dir
        self.warned_drop = 0
        self.last_ack = time.monotonic()   # the learner counts as there at the start
        self.learner_lost = False
        prefix = topic_prefix(direction)
        self.name = f'{direction} learner' if direction else 'learner'
        if spool_dir:
            self.spool = ActorSpool(spool_dir, actor_id)
            for actor, records in self.spool.leftovers().items():
                box = self.leftover[actor] = Outbox(max(len(records), 1))
                for seq, data in records:
                    box.add(seq, data, now=-1e9)  # due at once
                node.get_logger().info(f'{len(records)} unacknowledged transitions of '
                                       f'{actor} from {spool_dir}: re-sending')
        self.transition_pub = node.create_publisher(Transition, f'{prefix}/transitions',
                                                    qos.TRANSITIONS)
        node.create_subscription(TransitionAck, f'{prefix}/transition_ack', self.on_ack,
                                 qos.RELIABLE)
        if weights:
            node.create_subscription(PolicyWeights, f'{prefix}/policy_weights',
                                     self.on_weights, qos.LATCHED)

    # ------------------------------------------------------------------ callbacks
    def on_weights(self, msg: PolicyWeights) -> None:
        """Decode the learner's weights into the policy slot (bad weights are logged, kept out)."""
        try:
            policy = decode_policy(msg.config, msg.data, msg.format)
            policy.eval()
        except ValueError as exc:
            self.node.get_logger().error(f'{self.name}: ignoring policy weights version '
                                         f'{msg.version}: {exc}')
            return
        first = self.slot.version is None
        self.slot.put(msg.version, policy)
        if first:
            self.node.get_logger().info(f'{self.name}: policy weights version {msg.version} '
                                        'loaded')

    def on_ack(self, msg: TransitionAck) -> None:
        """Release what the acknowledgement covers, from memory and the spool."""
        self.last_ack = time.monotonic()
        with self.lock:
            if msg.actor_id == self.actor_id:
                box = self.outbox
            elif msg.actor_id in self.leftover:
                box = self.leftover[msg.actor_id]
            else:
                return
            box.ack(msg.sequence)
            if self.spool is not None:
                self.spool.ack(msg.actor_id, msg.sequence)
                if box is self.outbox and not len(box):
                    self.spool.clear()
                elif box is not self.outbox and not len(box):
                    self.spool.forget(msg.actor_id)
                    del self.leftover[msg.actor_id]

    # ------------------------------------------------------------------ sending
    def send(self, sequence: int, data: bytes) -> None:
        """Publish one serialised transition and keep it until acknowledged."""
        with self.lock:
            self.outbox.add(sequence, data, time.monotonic())
            if self.spool is not None:
                self.spool.append(sequence, data)
        self.transition_pub.publish(data)

    def resend(self, resend_after: float) -> None:
        """Re-send what stayed unacknowledged ``resend_after`` s; warn of drops and silence."""
        with self.lock:
            if self.spool is not None:
                self.spool.sync()
            now = time.monotonic()
            due: List = self.outbox.due(now, resend_after)
            for box in self.leftover.values():
                due += box.due(now, resend_after)
            dropped = self.outbox.dropped
        for _, data in due:
            self.transition_pub.publish(data)
        self._watch_learner(now, resend_after)
        if dropped > self.warned_drop:
            self.node.get_logger().warn(f'outbox full: {dropped} unacknowledged transitions '
                                        f'dropped (is the {self.name} running?)')
            self.warned_drop = dropped

    def _watch_learner(self, now: float, resend_after: float) -> None:
        """Say once when the learner stops acknowledging (and how much is held), and when back."""
        silent = now - self.last_ack
        pending = self.pending()
        if not self.learner_lost and pending and silent > resend_after:
            self.learner_lost = True
            where = ' (also on disk, spool_dir)' if self.spool is not None else ''
            self.node.get_logger().warn(
                f'{self.name} unreachable: no acknowledgement for {silent:.0f} s; holding '
                f'{pending} unacknowledged transitions{where}, re-sent until it is back')
        elif self.learner_lost and silent < 1.5:
            self.learner_lost = False
            self.node.get_logger().info(f'{self.name} back: acknowledging again ({pending} '
                                        f'transitions still unacknowledged)')

    # ------------------------------------------------------------------ state
    def pending(self) -> int:
        """Return how many transitions (this and earlier actor processes) await an ack."""
        with self.lock:
            return len(self.outbox) + sum(len(b) for b in self.leftover.values())

    def counts(self) -> Dict[str, int]:
        """Return acknowledged, unacknowledged and dropped transitions of this process."""
        with self.lock:
            return {'acknowledged': self.outbox.acked, 'unacknowledged': len(self.outbox),
                    'dropped': self.outbox.dropped}

    def close_spool(self) -> None:
        """Close the on-disk spool; its files are deleted when nothing awaits an ack."""
        if self.spool is not None:
            self.spool.close(delete=self.pending() == 0)
