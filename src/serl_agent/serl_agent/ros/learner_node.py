"""
``learner_node``: an agent's learner over ``/serl/transitions`` (thin wrapper of Learner).

Subscribes ``/serl/transitions`` (serl_msgs/Transition, reliable, keep last 1000; taken as raw
CDR so the bytes go to the spool unchanged), publishes ``/serl/transition_ack``
(serl_msgs/TransitionAck) once transitions are fsync'ed, ``/serl/policy_weights``
(serl_msgs/PolicyWeights, latched) every ``publish_every`` actor updates and
``/serl/learner_status`` (serl_msgs/LearnerStatus) every ``status_period`` seconds.
Parameters: see ``config/agent_nodes.yaml``.
"""

import math
import sys

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from serl_agent.agents.precision import resolve_precision
from serl_agent.agents.registry import load_config
from serl_agent.data.policy_io import WEIGHTS_FORMAT
from serl_agent.runtime.learner import demo_paths_from, Learner, LearnerSettings
from serl_agent.runtime.threads import set_torch_threads
from serl_common import qos
from serl_common.node_main import run_node
from serl_common.python_logging import forward_python_logging
from serl_msgs.msg import LearnerStatus, PolicyWeights, Transition, TransitionAck


class LearnerNode(Node):
    """The learner: receive, acknowledge, train, publish weights and status."""

    def __init__(self):
        super().__init__('learner_node')
        forward_python_logging(self, 'serl_agent')  # the core's log lines reach this node's log
        d = LearnerSettings()
        p = {
            'run_dir': d.run_dir, 'agent': d.agent, 'agent_config': '', 'demo_paths': [''],
            'prior_paths': [''],
            'successful_demos_only': False,
            'online_capacity': d.online_capacity, 'max_buffer_gb': d.max_buffer_gb,
            'training_starts': d.training_starts,
            'max_utd': d.max_utd, 'flat_out': d.flat_out, 'publish_every': d.publish_every,
            'checkpoint_every': d.checkpoint_every, 'checkpoints_kept': d.checkpoints_kept,
            'gap_timeout': d.gap_timeout, 'seed': d.seed, 'device': d.device,
            'rlpd_config': '', 'torch_threads': 0, 'ack_period': 0.2, 'status_period': 1.0,
            'observation_keys': [''], 'intervention_capacity': d.intervention_capacity,
            'image_encoder': d.image_encoder,
        }
        for name, default in p.items():
            self.declare_parameter(name, default)
        v = {name: self.get_parameter(name).value for name in p}
        settings = LearnerSettings(
            run_dir=v['run_dir'], agent=v['agent'], demo_paths=demo_paths_from(v['demo_paths']),
            prior_paths=demo_paths_from(v['prior_paths']),
            successful_demos_only=v['successful_demos_only'],
            online_capacity=v['online_capacity'], max_buffer_gb=float(v['max_buffer_gb']),
            training_starts=v['training_starts'],
            max_utd=float(v['max_utd']), flat_out=bool(v['flat_out']),
            publish_every=v['publish_every'],
            checkpoint_every=float(v['checkpoint_every']),
            checkpoints_kept=v['checkpoints_kept'], gap_timeout=float(v['gap_timeout']),
            seed=v['seed'], device=v['device'],
            observation_keys=tuple(k for k in v['observation_keys'] if k),
            intervention_capacity=v['intervention_capacity'],
            image_encoder=v['image_encoder'])
        if v['rlpd_config'] and v['agent'] != 'rlpd':
            raise ValueError(f'rlpd_config is for agent rlpd; agent {v["agent"]!r} takes '
                             f'agent_config')
        config = load_config(v['agent'], v['agent_config'] or v['rlpd_config'] or None)
        threads = set_torch_threads(v['torch_threads'] or None)
        precision, why = resolve_precision(getattr(config, 'precision', 'fp32'), v['device'])
        self.learner = Learner(settings, config)
        self.get_logger().info(
            f'{settings.agent} agent, run {self.learner.run_dir}: '
            f'{self.learner.spooled_on_start} transitions from the spool, agent from '
            f'{self.learner.resumed_from or "scratch"}, '
            f'{len(self.learner.demo_summary)} demo episodes, {threads} torch threads, '
            f'precision {precision} ({why}), '
            + ('training flat out' if settings.flat_out else
               f'UTD held at {self.learner.utd_limit:g} critic updates per env step'))
        self.ack_pub = self.create_publisher(TransitionAck, '/serl/transition_ack', qos.RELIABLE)
        self.weights_pub = self.create_publisher(PolicyWeights, '/serl/policy_weights',
                                                 qos.LATCHED)
        self.status_pub = self.create_publisher(LearnerStatus, '/serl/learner_status',
                                                qos.RELIABLE)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', qos.RELIABLE)
        self.create_subscription(Transition, '/serl/transitions', self._on_transition,
                                 qos.TRANSITIONS, raw=True)
        self.create_timer(float(v['ack_period']), self._on_ack_timer)
        self.create_timer(1.0, self._republish_acks)
        self.create_timer(0.05, self._on_weights_timer)
        self.create_timer(float(v['status_period']), self._on_status_timer)
        self.learner.start()

    def _on_transition(self, data: bytes) -> None:
        try:
            self.learner.receive(data)
        except Exception as exc:  # noqa: B902 - a bad message must not stop the learner
            self.get_logger().error(f'dropped a malformed transition: {exc}',
                                    throttle_duration_sec=5.0)

    def _publish_ack(self, actor_id: str, sequence: int) -> None:
        msg = TransitionAck(actor_id=actor_id, sequence=sequence)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.ack_pub.publish(msg)

    def _on_ack_timer(self) -> None:
        for actor, seq in self.learner.persist().items():
            self._publish_ack(actor, seq)

    def _republish_acks(self) -> None:
        for actor, seq in self.learner.watermarks().items():
            self._publish_ack(actor, seq)

    def _on_weights_timer(self) -> None:
        if self.learner.error is not None:
            raise RuntimeError(f'training thread failed: {self.learner.error!r}')
        weights = self.learner.take_weights()
        if weights is None:
            return
        version, config_json, data = weights
        msg = PolicyWeights(version=version, format=WEIGHTS_FORMAT, config=config_json)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.data = data
        self.weights_pub.publish(msg)

    def _on_status_timer(self) -> None:
        s = self.learner.status()
        msg = LearnerStatus(env_steps=int(s['env_steps']),
                            critic_updates=int(s['critic_updates']),
                            actor_updates=int(s['actor_updates']),
                            achieved_utd=s['achieved_utd'],
                            updates_per_second=s['updates_per_second'],
                            temperature=s['temperature'],
                            critic_loss=s['critic_loss'], actor_loss=s['actor_loss'])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.status_pub.publish(msg)
        diag = DiagnosticStatus(name=f'{self.get_name()}: learner',
                                hardware_id=str(self.learner.run_dir))
        diag.level, diag.message = DiagnosticStatus.OK, 'training'
        if not self.learner.ready():
            diag.message = 'waiting for transitions'
        if self.learner.error is not None:
            diag.level, diag.message = DiagnosticStatus.ERROR, repr(self.learner.error)
        diag.values = [KeyValue(key=k, value=str(v)) for k, v in s.items()]
        diag.values.append(KeyValue(key='acknowledged', value=str(self.learner.watermarks())))
        darr = DiagnosticArray(status=[diag])
        darr.header.stamp = msg.header.stamp
        self.diag_pub.publish(darr)
        # NaN losses mean "no update in this window" (a diverged loss stops training instead)
        loss = ('n/a (no update this window)' if not s['updates'] or math.isnan(s['critic_loss'])
                else f"{s['critic_loss']:.4g}")
        self.get_logger().info(
            'env steps {env_steps}, critic updates {critic_updates}, UTD {achieved_utd:.1f}, '
            '{updates_per_second:.1f} updates/s, critic loss {loss}'.format(loss=loss, **s),
            throttle_duration_sec=10.0)

    def destroy_node(self):
        """Stop training, sync the spool and checkpoint, then destroy the node."""
        self.learner.stop(save=True)
        acks = self.learner.persist()
        if self.context.ok():  # after Ctrl-C the context is already shut down: nothing to send
            for actor, seq in acks.items():
                self._publish_ack(actor, seq)
        super().destroy_node()


def main(args=None):
    """Run the learner node until Ctrl-C."""
    from serl_agent.vision.image_features import EncoderFileError
    return run_node(LearnerNode, args, fatal_errors=(EncoderFileError,))


if __name__ == '__main__':
    sys.exit(main())
