"""
``actor_node``: runs a policy in an env and streams transitions to the learner.

The env is the robot over ROS topics (``env: ros``, :class:`serl_agent.ros.ros_env.RosEnv`) or a
Gymnasium env run in this process (``env: PandaPickCube-v0`` etc.; distributed training in
sim without the robot graph). The policy is the RLPD policy last received on
``/serl/policy_weights`` (swapped in between two steps; control never waits for it), or
``random`` / the scripted ``expert`` / ``explore`` (serl_sim's scripted workspace explorer:
failure frames for the reward classifier, :mod:`serl_sim.explorer`) / a person (``teleop``:
``teleop_twist_topic`` and ``teleop_joy_topic``, see :mod:`serl_agent.runtime.teleop_policy`; the
success and abort buttons end episodes) (expert and teleop transitions are marked
``intervention``). With ``teleop_intervention: true`` the operator overrides the RLPD policy while
touching the input (HIL-SERL-style; those transitions are marked ``intervention``). Before the
first weights arrive, ``before_weights`` chooses the actions. With ``success_hold_steps`` N > 0
(demo recording: the record_demos graph) an episode goes on for N steps after its first success,
the policy holding it (terminal success transitions; the last also ``truncated``, see
:class:`serl_agent.runtime.episode_runner.EpisodeRunner`); RL training keeps N = 0.

Every transition is published on ``/serl/transitions`` (actor_id + sequence) and kept in a
bounded outbox until ``/serl/transition_ack`` covers it; transitions not acknowledged within
``resend_after`` seconds are sent again (a restarted learner gets what it missed). The actor
never waits for the learner: a full outbox drops its oldest transition, with a warning.
With ``spool_dir`` set, unacknowledged transitions are also kept on disk
(:mod:`serl_agent.data.actor_spool`): a later actor process re-sends what a crashed one left.
The control loop runs in the main thread, the ROS callbacks in an executor thread.
"""

import os
import signal
import socket
import sys
import threading
import time
from typing import Dict

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped
import gymnasium as gym
import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import serialize_message
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Joy

from serl_agent.data.acknowledgement import Outbox
from serl_agent.data.actor_spool import ActorSpool
from serl_agent.data.policy_io import decode_policy, load_policy_file
from serl_agent.data.transition_codec import CodecError, dict_to_transition, rclpy_types
from serl_agent.runtime.episode_runner import as_agent_env, EpisodeRunner
from serl_agent.runtime.policy_slot import PolicySlot
from serl_agent.runtime.teleop_policy import TeleopEpisodeEnd, TeleopPolicy, TeleopSettings
from serl_agent.runtime.threads import set_torch_threads
from serl_common import qos
from serl_msgs.msg import EpisodeSummary, PolicyWeights, Transition, TransitionAck

POLICIES = ('rlpd', 'expert', 'random', 'explore', 'teleop')
FALLBACKS = ('random', 'expert', 'zero')


def default_actor_id() -> str:
    """Return a process-unique actor id: host, pid and start time (sequence restarts at 1)."""
    return f'{socket.gethostname()}-{os.getpid()}-{time.time_ns() // 1_000_000 % 10**9}'


class ActorNode(Node):
    """The actor; see the module docstring. Parameters: ``config/agent_nodes.yaml``."""

    def __init__(self):
        super().__init__('actor_node')
        p = {
            'env': 'ros', 'robot': 'sim', 'task': 'PandaPickCube-v0',
            'reward_source': 'classifier', 'policy': 'rlpd',
            'before_weights': 'random', 'deterministic': False, 'actor_id': '',
            'max_episodes': 0, 'max_episode_steps': 0, 'seed': 0,
            'outbox_capacity': 20000, 'resend_after': 5.0, 'drain_timeout': 30.0,
            'gym_rate': 0.0, 'spool_dir': '', 'torch_threads': 1,
            'eval_every': 0, 'eval_episodes': 0, 'train_on_evaluation': False,
            'teleop_twist_topic': '/teleop/twist', 'teleop_twist_stamped': True,
            'teleop_joy_topic': '/teleop/joy', 'teleop_timeout': 0.5, 'teleop_twist_scale': 1.0,
            'teleop_intervention': False, 'success_hold_steps': 0, 'policy_file': '',
            'image_encoder': '',
        }
        for name, default in p.items():
            self.declare_parameter(name, default)
        v = {name: self.get_parameter(name).value for name in p}
        if v['policy'] not in POLICIES:
            raise ValueError(f"parameter policy must be one of {POLICIES}, got {v['policy']!r}")
        if v['success_hold_steps'] < 0:
            raise ValueError('parameter success_hold_steps must be >= 0, '
                             f"got {v['success_hold_steps']}")
        if v['before_weights'] not in FALLBACKS:
            raise ValueError(f'parameter before_weights must be one of {FALLBACKS}, '
                             f"got {v['before_weights']!r}")
        self.v = v
        set_torch_threads(v['torch_threads'])  # a small policy: leave the cores to the robot
        self.actor_id = v['actor_id'] or default_actor_id()
        self.types = rclpy_types()
        self.slot = PolicySlot()
        # The policy of a learner with an image encoder acts on features: the same frozen
        # encoder maps this actor's camera images to them (transitions still carry images).
        self.features = None
        if v['image_encoder']:
            from serl_agent.vision.image_features import ImageFeatures
            self.features = ImageFeatures.from_file(v['image_encoder'])
            self.get_logger().info(f"image encoder {v['image_encoder']}: cameras "
                                   f'{self.features.cameras} -> features')
        if v['policy_file']:   # a saved policy (serl_eval): acts from the first step
            self.slot.put(0, load_policy_file(v['policy_file']))
            self.get_logger().info(f"policy loaded from {v['policy_file']}")
        self._lock = threading.Lock()
        self.outbox = Outbox(v['outbox_capacity'])
        # outboxes of earlier (crashed) actor processes found in the spool directory
        self.leftover: Dict[str, Outbox] = {}
        self.spool = None
        if v['spool_dir']:
            self.spool = ActorSpool(v['spool_dir'], self.actor_id)
            for actor, records in self.spool.leftovers().items():
                box = self.leftover[actor] = Outbox(max(len(records), 1))
                for seq, data in records:
                    box.add(seq, data, now=-1e9)  # due at once
                self.get_logger().info(f'{len(records)} unacknowledged transitions of '
                                       f'{actor} from {v["spool_dir"]}: re-sending')
        self._warned_drop = 0
        self._last_ack = time.monotonic()   # the learner counts as there at the start
        self._learner_lost = False
        self.stop_requested = threading.Event()
        self.rng = np.random.default_rng(v['seed'])
        self._next_tick = None

        self.env = self._make_env(v)
        self.expert = None
        if 'expert' in (v['policy'], v['before_weights']):
            self.expert = self._make_expert()
        self.explorer = self._make_explorer() if v['policy'] == 'explore' else None
        self.teleop = None
        if v['policy'] == 'teleop' or (v['teleop_intervention'] and v['policy'] == 'rlpd'):
            self.teleop = self._make_teleop()
        self.transition_pub = self.create_publisher(Transition, '/serl/transitions',
                                                    qos.TRANSITIONS)
        self.create_subscription(TransitionAck, '/serl/transition_ack', self._on_ack,
                                 qos.RELIABLE)
        if v['policy'] == 'rlpd':
            self.create_subscription(PolicyWeights, '/serl/policy_weights', self._on_weights,
                                     qos.LATCHED)
        self.create_timer(1.0, self._resend)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', qos.RELIABLE)
        self.summary_pub = self.create_publisher(EpisodeSummary, '/serl/episode_summary',
                                                 qos.RELIABLE)
        self.create_timer(1.0, self._publish_diagnostics)
        self.episodes_done = 0
        self.total_steps = 0
        self.evaluating = False  # True while an evaluation episode runs (deterministic policy)
        self.get_logger().info(f'actor {self.actor_id}: env {v["env"]}, policy {v["policy"]} '
                               f'(before weights: {v["before_weights"]})')

    # ------------------------------------------------------------------ setup
    def _make_env(self, v) -> gym.Env:
        if v['env'] == 'ros':
            from serl_agent.ros.ros_env import RosEnv, RosEnvSettings
            return RosEnv(self, RosEnvSettings.from_node(self))
        try:
            import serl_sim  # noqa: F401 - registers the serl_sim envs
        except ImportError:
            pass
        kwargs = {}
        if v['max_episode_steps'] > 0:
            kwargs['max_episode_steps'] = v['max_episode_steps']
        return as_agent_env(gym.make(v['env'], **kwargs))

    def _make_expert(self):
        if self.v['env'] == 'ros':
            from serl_agent.ros.ros_env import ros_expert
            return ros_expert(self.env, self.v['task'])
        from serl_sim.experts import make_expert
        return make_expert(self.env)

    def _make_explorer(self):
        from serl_sim.explorer import WorkspaceExplorer
        settings = getattr(self.env, 'settings', None)
        if settings is not None:  # RosEnv: the workspace the actions are clipped into
            low, high = settings.workspace_min, settings.workspace_max
            scale = settings.action_scale
        else:
            env = self.env.unwrapped
            low, high = env.task.workspace_min, env.task.workspace_max
            scale = env.action_scale
        return WorkspaceExplorer(low, high, rng=self.rng, action_scale=float(scale))

    def _make_teleop(self) -> TeleopPolicy:
        # the operator's twist + Joy buttons (serl_teleop's teleop_node or the spacenav driver)
        v = self.v
        settings = getattr(self.env, 'settings', None)
        teleop = TeleopPolicy(TeleopSettings(
            action_scale=float(getattr(self.env.unwrapped, 'action_scale', 0.03)),
            control_rate=settings.control_rate if settings else (v['gym_rate'] or 10.0),
            timeout=v['teleop_timeout'], twist_scale=v['teleop_twist_scale']))

        def on_twist(msg):
            twist = msg.twist if v['teleop_twist_stamped'] else msg
            try:
                teleop.on_twist((twist.linear.x, twist.linear.y, twist.linear.z))
            except ValueError as exc:
                self.get_logger().error(f'teleop twist ignored, motion stopped: {exc}',
                                        throttle_duration_sec=1.0)

        self.create_subscription(TwistStamped if v['teleop_twist_stamped'] else Twist,
                                 v['teleop_twist_topic'], on_twist, qos.RELIABLE)
        self.create_subscription(Joy, v['teleop_joy_topic'],
                                 lambda msg: teleop.on_buttons(msg.buttons), qos.RELIABLE)
        return teleop

    # ------------------------------------------------------------------ callbacks
    def _on_weights(self, msg: PolicyWeights) -> None:
        try:
            policy = decode_policy(msg.config, msg.data, msg.format)
            policy.eval()
        except ValueError as exc:
            self.get_logger().error(f'ignoring policy weights version {msg.version}: {exc}')
            return
        first = self.slot.version is None
        self.slot.put(msg.version, policy)
        if first:
            self.get_logger().info(f'policy weights version {msg.version} loaded')

    def _on_ack(self, msg: TransitionAck) -> None:
        self._last_ack = time.monotonic()
        with self._lock:
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

    def _resend(self) -> None:
        with self._lock:
            if self.spool is not None:
                self.spool.sync()
            now = time.monotonic()
            due = self.outbox.due(now, self.v['resend_after'])
            for box in self.leftover.values():
                due += box.due(now, self.v['resend_after'])
            dropped = self.outbox.dropped
        for _, data in due:
            self.transition_pub.publish(data)
        self._watch_learner(now)
        if dropped > self._warned_drop:
            self.get_logger().warn(f'outbox full: {dropped} unacknowledged transitions dropped '
                                   '(is the learner running?)')
            self._warned_drop = dropped

    def _watch_learner(self, now: float) -> None:
        """Say once when the learner stops acknowledging (and how much is held), and when back."""
        silent = now - self._last_ack
        pending = self.pending()
        if not self._learner_lost and pending and silent > self.v['resend_after']:
            self._learner_lost = True
            where = ' (also on disk, spool_dir)' if self.spool is not None else ''
            self.get_logger().warn(
                f'learner unreachable: no acknowledgement for {silent:.0f} s; holding '
                f'{pending} unacknowledged transitions{where}, re-sent until it is back')
        elif self._learner_lost and silent < 1.5:
            self._learner_lost = False
            self.get_logger().info(f'learner back: acknowledging again ({pending} transitions '
                                   f'still unacknowledged)')

    def _publish_diagnostics(self) -> None:
        version, _ = self.slot.get()
        pending = self.pending()
        with self._lock:
            dropped, acked = self.outbox.dropped, self.outbox.acked
        status = DiagnosticStatus(name=f'{self.get_name()}: actor', hardware_id=self.actor_id)
        status.level, status.message = DiagnosticStatus.OK, 'running'
        if dropped:
            status.level, status.message = DiagnosticStatus.WARN, 'outbox overflowed'
        elif pending > self.outbox.capacity // 2:
            status.level, status.message = DiagnosticStatus.WARN, 'learner not acknowledging'
        if hasattr(self.env, 'state_age') and \
                self.env.state_age() > self.env.settings.state_timeout:
            status.level, status.message = DiagnosticStatus.ERROR, 'robot state stale'
        values = {'policy_version': version, 'episodes': self.episodes_done,
                  'acknowledged': acked, 'unacknowledged': pending, 'dropped': dropped}
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)

    # ------------------------------------------------------------------ acting
    def _fallback(self, obs):
        mode = self.v['before_weights']
        if mode == 'expert':
            return np.asarray(self.expert(obs), np.float32), True
        if mode == 'zero':
            return np.zeros(self.env.action_space.shape, np.float32), False
        space = self.env.action_space
        return self.rng.uniform(space.low, space.high).astype(np.float32), False

    def _pace(self) -> None:
        # wall-clock pacing of an in-process Gymnasium env (RosEnv paces itself)
        rate = self.v['gym_rate']
        if rate <= 0 or self.v['env'] == 'ros':
            return
        now = time.monotonic()
        if self._next_tick is None or now - self._next_tick > 1.0:
            self._next_tick = now
        time.sleep(max(0.0, self._next_tick - now))
        self._next_tick += 1.0 / rate

    def act(self, obs):
        """Return ``(action, intervention)`` for ``obs`` under the configured policy."""
        self._pace()
        mode = self.v['policy']
        if mode == 'expert':
            return np.asarray(self.expert(obs), np.float32), True
        if mode == 'teleop':
            return self.teleop(obs)
        if mode == 'random':
            space = self.env.action_space
            return self.rng.uniform(space.low, space.high).astype(np.float32), False
        if mode == 'explore':
            return self.explorer(obs), False
        if self.teleop is not None and self.teleop.active():  # HIL-SERL-style intervention
            return self.teleop.intervention_action(), True
        _, policy = self.slot.get()
        if policy is None:
            return self._fallback(obs)
        deterministic = self.v['deterministic'] or self.evaluating
        if self.features is not None:
            obs = self.features.observation(obs)
        return policy.act(obs, deterministic=deterministic), False

    def send(self, tr: dict) -> None:
        """Publish one transition and keep it until acknowledged."""
        try:
            msg = dict_to_transition(tr, self.types)
        except CodecError as exc:
            self.get_logger().error(f'transition {tr["sequence"]} not sent: {exc}')
            return
        data = serialize_message(msg)
        with self._lock:
            self.outbox.add(tr['sequence'], data, time.monotonic())
            if self.spool is not None:
                self.spool.append(tr['sequence'], data)
        self.transition_pub.publish(data)

    def evaluation_due(self, training_done: int, due_at: int) -> bool:
        """
        Return True when an evaluation round is due.

        With ``eval_every`` = N > 0 and ``eval_episodes`` > 0, a round runs once
        ``training_done`` reaches ``due_at`` (the first after N training episodes, each next
        one N training episodes after the previous round). Evaluation needs policy weights
        (``policy: rlpd``); before the first weights none is due.
        """
        every, count = self.v['eval_every'], self.v['eval_episodes']
        if every <= 0 or count <= 0 or self.v['policy'] != 'rlpd':
            return False
        if self.slot.get()[0] is None:
            return False
        return training_done >= due_at

    def publish_summary(self, result, evaluation: bool, round_: int) -> None:
        """Publish one ``EpisodeSummary`` on ``/serl/episode_summary``."""
        version, _ = self.slot.get()
        msg = EpisodeSummary(actor_id=self.actor_id, episode=int(result.episode),
                             steps=int(result.steps),
                             episode_return=float(result.episode_return),
                             success=bool(result.success), evaluation=bool(evaluation),
                             evaluation_round=int(round_) if evaluation else 0,
                             total_steps=int(self.total_steps),
                             intervention_steps=int(result.interventions),
                             policy_version=-1 if version is None else int(version))
        msg.header.stamp = self.get_clock().now().to_msg()
        self.summary_pub.publish(msg)

    def run(self) -> None:
        """
        Run episodes until ``max_episodes`` (0: forever) or shutdown, then drain.

        Evaluation rounds (``eval_every``, ``eval_episodes``) run ``eval_episodes`` episodes
        with the deterministic policy, each summarised on ``/serl/episode_summary`` with
        ``evaluation`` set. Their transitions are not sent: the learner neither trains on them
        nor counts them as env steps, as RL benchmarks count interaction (parameter
        ``train_on_evaluation``: send them like any other, off-policy data).
        ``max_episodes`` counts training episodes only.
        """
        env = TeleopEpisodeEnd(self.env, self.teleop) if self.teleop else self.env
        runner = EpisodeRunner(env, self.actor_id,
                               max_steps=self.v['max_episode_steps'] if self.v['env'] == 'ros'
                               else 0, success_hold_steps=self.v['success_hold_steps'])
        episode = 0          # every episode (the transitions' episode counter)
        training_done = 0    # training episodes finished
        round_, in_round, due_at = 0, 0, self.v['eval_every']
        while rclpy.ok(context=self.context) and not self.stop_requested.is_set():
            evaluating = in_round > 0 or self.evaluation_due(training_done, due_at)
            if not evaluating and self.v['max_episodes'] and \
                    training_done >= self.v['max_episodes']:
                break
            self.evaluating = evaluating
            try:
                send = None if evaluating and not self.v['train_on_evaluation'] \
                    else self._send_counted
                result = runner.run_episode(self.act, episode, seed=self.v['seed'] + episode,
                                            on_transition=send,
                                            should_stop=self.stop_requested.is_set)
            except RuntimeError as exc:  # StaleStateError, reset failures: no command sent
                if self.v['env'] != 'ros':
                    raise
                self.get_logger().error(f'episode {episode} aborted: {exc}')
                episode += 1
                self._wait_for_robot()
                continue
            finally:
                self.evaluating = False
            version, _ = self.slot.get()
            kind = f'evaluation {round_}.{in_round}' if evaluating else 'episode'
            self.get_logger().info(
                f'{kind} {episode}: {result.steps} steps, return {result.episode_return:.2f}, '
                f'{"success" if result.success else "failure"}, policy version {version}')
            if not self.stop_requested.is_set():  # an interrupted episode is no evidence
                self.publish_summary(result, evaluating, round_)
            episode += 1
            self.episodes_done = episode
            if evaluating:
                in_round += 1
                if in_round >= self.v['eval_episodes']:
                    round_, in_round = round_ + 1, 0
                    due_at = training_done + self.v['eval_every']
            else:
                training_done += 1
        self.drain()

    def _send_counted(self, tr: dict) -> None:
        self.total_steps += 1
        self.send(tr)

    def _wait_for_robot(self) -> None:
        # after an aborted episode: wait (interruptibly) for the robot state to come back
        while not self.stop_requested.is_set() and rclpy.ok(context=self.context):
            try:
                self.env.wait_for_state(1.0)
                return
            except RuntimeError:
                self.get_logger().warn('waiting for the robot state', throttle_duration_sec=10.0)

    def drain(self) -> bool:
        """Wait (at most ``drain_timeout`` s) until every transition is acknowledged."""
        if self.pending():
            self.get_logger().info(f'waiting up to {self.v["drain_timeout"]} s for the '
                                   f'acknowledgement of {self.pending()} transitions')
        deadline = time.monotonic() + self.v['drain_timeout']
        while time.monotonic() < deadline and rclpy.ok(context=self.context):
            if self.pending() == 0:
                return True
            time.sleep(0.05)  # the executor thread receives the acks meanwhile
        kept = f' (kept in {self.v["spool_dir"]})' if self.spool is not None else ''
        self.get_logger().warn(f'{self.pending()} transitions still unacknowledged at exit'
                               + kept)
        return False

    def pending(self) -> int:
        """Return how many transitions (this and earlier actor processes) await an ack."""
        with self._lock:
            return len(self.outbox) + sum(len(b) for b in self.leftover.values())

    def close_spool(self) -> None:
        """Close the on-disk spool; its files are deleted when nothing awaits an ack."""
        if self.spool is not None:
            self.spool.close(delete=self.pending() == 0)

    def summary(self) -> str:
        """One line: transitions sent, acknowledged, unacknowledged, dropped."""
        with self._lock:
            return (f'actor {self.actor_id}: {self.outbox.acked} transitions acknowledged, '
                    f'{len(self.outbox)} unacknowledged, {self.outbox.dropped} dropped')


def main(args=None):
    """
    Run the actor: ROS callbacks in a thread, the control loop here.

    The first Ctrl-C (SIGINT) or SIGTERM ends the current episode (marked truncated) and waits
    up to ``drain_timeout`` s for the learner to acknowledge what was sent; a second one exits
    at once.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    executor = SingleThreadedExecutor()

    def on_signal(signum, frame):
        if node is None or node.stop_requested.is_set():
            raise KeyboardInterrupt
        node.stop_requested.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    spinner = None
    status = 0
    try:
        try:
            node = ActorNode()
        except ValueError as exc:   # a bad parameter or input file, named in the text
            print(f'actor_node: {exc}', file=sys.stderr)
            status = 1
            return status
        executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        node.run()
        node.get_logger().info(node.summary())
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.stop_requested.set()
            if hasattr(node.env, 'close'):
                node.env.close()
        executor.shutdown()
        if spinner is not None:
            spinner.join(10.0)
        if node is not None:
            node.close_spool()
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == '__main__':
    sys.exit(main())
