"""
``serl_monitor`` node of the main job: watches a running graph and feeds :class:`Progress`.

Subscribes ``/serl/learner_status`` and ``/serl/episode_summary`` (progress),
``/serl/policy_weights`` (latched; the newest weights, to save the policy) and waits for the
first message of one stream per node, so that the main job can show the graph is alive (each
of these subscriptions is destroyed after its first message: ``/joint_states`` and
``limited_target`` run at 100 Hz and deserialising them took ~20 % of a core that the learner
needs). The streams: ``/joint_states`` (sim), ``/cartesian_impedance_controller/
limited_target`` (controller, in either mode), ``/reward`` (reward node),
``/serl/transitions`` (actor; raw, not deserialised), ``/cartesian_impedance_controller/
equilibrium_pose`` (actor), ``/serl/policy_weights`` and ``/serl/learner_status`` (learner).
The reward node's ``/diagnostics`` values (label queries, VICE updates) feed the status line.
Forward-backward training: a :class:`Progress` per direction, fed from that direction's learner
(``/serl/<direction>/learner_status`` and ``policy_weights``) and the episode summaries of that
``direction``.
The node holds no logic beyond translating messages into :class:`Progress` calls.
"""

from collections import Counter, OrderedDict
import threading
from typing import Dict, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState
from serl_bringup.progress import Evaluation, Progress
from serl_common import qos
from serl_msgs.msg import EpisodeSummary, LearnerStatus, PolicyWeights, RewardStamped, Transition

#: topic -> (type, QoS, node that publishes it), the streams counted by the monitor.
WATCHED = {
    '/joint_states': (JointState, qos.SENSOR, 'sim_node'),
    '/cartesian_impedance_controller/limited_target': (PoseStamped, qos.SENSOR,
                                                       'cartesian_impedance_controller'),
    '/reward': (RewardStamped, qos.RELIABLE, 'reward_node'),
    '/serl/transitions': (Transition, qos.TRANSITIONS, 'actor_node'),
    '/cartesian_impedance_controller/equilibrium_pose': (PoseStamped, qos.RELIABLE,
                                                         'actor_node'),
}


class MonitorNode(Node):
    """
    Feeds a :class:`Progress` from the graph's topics; see the module docstring.

    :param progress: the run's progress (the node calls it from its executor thread; read it
        under :attr:`lock`), or ``{direction: Progress}`` for forward-backward training.
    :param keep_weights: policy weight messages kept (by version) for saving the evaluated one.
    """

    def __init__(self, progress, keep_weights: int = 50):
        super().__init__('serl_monitor')
        self.progresses: Dict[str, Progress] = \
            dict(progress) if isinstance(progress, dict) else {'': progress}
        self.progress = next(iter(self.progresses.values()))
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.weights_of: Dict[str, 'OrderedDict[int, PolicyWeights]'] = {
            d: OrderedDict() for d in self.progresses}
        self.weights = self.weights_of[next(iter(self.progresses))]
        self.resets = self.out_of_reach_resets = 0   # forward-backward scene resets
        self.keep_weights = keep_weights
        self.new_evaluations: list = []
        self._liveness: Dict[str, object] = {}  # topic -> subscription until its first message
        for topic, (msg_type, profile, _) in WATCHED.items():
            raw = topic == '/serl/transitions'
            self._liveness[topic] = self.create_subscription(
                msg_type, topic, self._counter(topic), profile, raw=raw)
        for direction in self.progresses:
            prefix = f'/serl/{direction}' if direction else '/serl'
            self.create_subscription(LearnerStatus, f'{prefix}/learner_status',
                                     lambda m, d=direction: self._on_status(m, d), qos.RELIABLE)
            self.create_subscription(PolicyWeights, f'{prefix}/policy_weights',
                                     lambda m, d=direction: self._on_weights(m, d), qos.LATCHED)
        self.create_subscription(EpisodeSummary, '/serl/episode_summary', self._on_episode,
                                 qos.RELIABLE)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                 qos.RELIABLE)

    def _counter(self, topic: str):
        def count(_msg) -> None:
            with self.lock:
                subscription = self._liveness.pop(topic, None)
                if subscription is None:  # a message already queued when it was destroyed
                    return
                self.counts[topic] += 1
                if topic == '/reward':
                    self.progress.reward_frames += 1
            self.destroy_subscription(subscription)
        return count

    def _on_status(self, msg: LearnerStatus, direction: str = '') -> None:
        fields = {k: float(getattr(msg, k)) for k in (
            'env_steps', 'critic_updates', 'actor_updates', 'achieved_utd',
            'updates_per_second', 'temperature', 'critic_loss', 'actor_loss')}
        with self.lock:
            self.counts['/serl/learner_status'] += 1
            self.progresses[direction].on_learner_status(fields)

    def _on_episode(self, msg: EpisodeSummary) -> None:
        progress = self.progresses.get(msg.direction, self.progress)
        with self.lock:
            self.counts['/serl/episode_summary'] += 1
            self.resets = max(self.resets, int(msg.resets))
            self.out_of_reach_resets = max(self.out_of_reach_resets,
                                           int(msg.out_of_reach_resets))
            ev = progress.on_episode(
                msg.actor_id, msg.episode, msg.steps, msg.episode_return, msg.success,
                msg.evaluation, msg.evaluation_round, msg.total_steps, msg.policy_version,
                msg.intervention_steps, rewarded=msg.rewarded)
            if ev is not None:
                ev.direction = msg.direction
                self.new_evaluations.append(ev)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith('reward_node:'):
                with self.lock:
                    self.progress.on_reward_counts({kv.key: kv.value for kv in status.values})

    def _on_weights(self, msg: PolicyWeights, direction: str = '') -> None:
        with self.lock:
            self.counts['/serl/policy_weights'] += 1
            kept = self.weights_of[direction]
            kept[int(msg.version)] = msg
            self.progresses[direction].weights_version = int(msg.version)
            while len(kept) > self.keep_weights:
                kept.popitem(last=False)

    def take_evaluations(self) -> list:
        """Return the evaluation rounds completed since the last call."""
        with self.lock:
            out, self.new_evaluations = self.new_evaluations, []
        return out

    def weights_for(self, version: Optional[int],
                    direction: Optional[str] = None) -> Optional[PolicyWeights]:
        """Return ``direction``'s kept weights of ``version`` (None: the newest), else None."""
        with self.lock:
            kept = self.weights if direction is None else self.weights_of[direction]
            if not kept:
                return None
            if version is None:
                return next(reversed(kept.values()))
            return kept.get(int(version))

    def alive(self) -> Dict[str, Tuple[str, int]]:
        """
        Return ``{topic: (publishing node, messages received)}`` for every watched topic.

        The streams of :data:`WATCHED` are counted up to their first message only (0 or 1).
        """
        with self.lock:
            nodes = {t: spec[2] for t, spec in WATCHED.items()}
            nodes.update({'/serl/policy_weights': 'learner_node',
                          '/serl/learner_status': 'learner_node',
                          '/serl/episode_summary': 'actor_node'})
            return {t: (n, self.counts[t]) for t, n in nodes.items()}


__all__ = ['MonitorNode', 'WATCHED', 'Evaluation']
