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
The link to the learner is :class:`serl_agent.ros.learner_link.LearnerLink`.

Forward-backward reset-free training (``directions: [forward, backward]``, SERL Sec. 4): one
link per direction (``/serl/<direction>/...``, each to its own learner, its own actor id
``<actor_id>-<direction>`` and spool ``spool_dir/<direction>``), each direction rewarded by its
own classifier (``/reward/<direction>``). The directions take turns, each episode starting
where the previous one left the object (reset option ``keep_objects``); the scene is reset at
the start and when the object left the reachable workspace (counted, in ``EpisodeSummary``);
a direction whose goal holds already is skipped
(:class:`serl_agent.runtime.forward_backward.ResetFreeSchedule`). Evaluation rounds evaluate
every direction with full resets.
The control loop runs in the main thread, the ROS callbacks in an executor thread.
"""

from dataclasses import replace
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

from serl_agent.data.policy_io import load_policy_file
from serl_agent.data.transition_codec import CodecError, dict_to_transition, rclpy_types
from serl_agent.ros.learner_link import LearnerLink
from serl_agent.runtime.episode_runner import as_agent_env, EpisodeRunner
from serl_agent.runtime.forward_backward import ResetFreeSchedule
from serl_agent.runtime.teleop_policy import TeleopEpisodeEnd, TeleopPolicy, TeleopSettings
from serl_agent.runtime.threads import set_torch_threads
from serl_common import qos
from serl_msgs.msg import EpisodeSummary

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
            'image_encoder': '', 'directions': [''], 'wait_for_receiver': 5.0,
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
        self.directions = tuple(d for d in v['directions'] if d) or ('',)
        if len(self.directions) not in (1, 2) or len(set(self.directions)) != \
                len(self.directions):
            raise ValueError('parameter directions must name one or two different directions '
                             f"(or be ['']), got {v['directions']}")
        if len(self.directions) == 2 and v['policy'] not in ('rlpd', 'expert'):
            raise ValueError('forward-backward (two directions) runs policy rlpd or expert '
                             f"(each direction's scripted expert), got {v['policy']!r}")
        self.v = v
        set_torch_threads(v['torch_threads'])  # a small policy: leave the cores to the robot
        self.actor_id = v['actor_id'] or default_actor_id()
        self.types = rclpy_types()
        # The policy of a learner with an image encoder acts on features: the same frozen
        # encoder maps this actor's camera images to them (transitions still carry images).
        self.features = None
        if v['image_encoder']:
            from serl_agent.vision.image_features import ImageFeatures
            self.features = ImageFeatures.from_file(v['image_encoder'])
            self.get_logger().info(f"image encoder {v['image_encoder']}: cameras "
                                   f'{self.features.cameras} -> features')
        self.links: Dict[str, LearnerLink] = {}
        for direction in self.directions:
            spool_dir = v['spool_dir']
            if spool_dir and direction:
                spool_dir = os.path.join(spool_dir, direction)
            self.links[direction] = LearnerLink(
                self, self._actor_id_of(direction), direction, v['outbox_capacity'],
                spool_dir, weights=v['policy'] == 'rlpd')
        self.direction = self.directions[0]   # whose policy acts and whose learner gets it
        if v['policy_file']:   # a saved policy (serl_eval): acts from the first step
            self.slot.put(0, load_policy_file(v['policy_file']))
            self.get_logger().info(f"policy loaded from {v['policy_file']}")
        self.stop_requested = threading.Event()
        self.rng = np.random.default_rng(v['seed'])
        self._next_tick = None

        self.env = self._make_env(v)
        self.experts = {}   # direction -> scripted expert
        if 'expert' in (v['policy'], v['before_weights']):
            self.experts = {d: self._make_expert(d) for d in self.directions}
        self.explorer = self._make_explorer() if v['policy'] == 'explore' else None
        self.teleop = None
        if v['policy'] == 'teleop' or (v['teleop_intervention'] and v['policy'] == 'rlpd'):
            self.teleop = self._make_teleop()
        self.create_timer(1.0, self._resend)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', qos.RELIABLE)
        self.summary_pub = self.create_publisher(EpisodeSummary, '/serl/episode_summary',
                                                 qos.RELIABLE)
        self.create_timer(1.0, self._publish_diagnostics)
        self.episodes_done = 0
        self.total_steps = 0
        self.schedule = ResetFreeSchedule(self.directions[0])
        self.evaluating = False  # True while an evaluation episode runs (deterministic policy)
        self.get_logger().info(f'actor {self.actor_id}: env {v["env"]}, policy {v["policy"]} '
                               f'(before weights: {v["before_weights"]})')

    # ------------------------------------------------------------------ links
    def _actor_id_of(self, direction: str) -> str:
        """Return the actor id of ``direction``'s transitions (its own sequence numbers)."""
        return f'{self.actor_id}-{direction}' if direction else self.actor_id

    @property
    def link(self) -> LearnerLink:
        """Return the link of the direction now acting."""
        return self.links[self.direction]

    @property
    def slot(self):
        """Return the policy slot of the direction now acting."""
        return self.link.slot

    # ------------------------------------------------------------------ setup
    def _make_env(self, v) -> gym.Env:
        if v['env'] == 'ros':
            from serl_agent.ros.ros_env import RosEnv, RosEnvSettings
            settings = RosEnvSettings.from_node(self)
            return RosEnv(self, replace(settings, directions=self.directions))
        if len(self.directions) == 2:
            raise ValueError('forward-backward training runs on the ROS env (env: ros)')
        try:
            import serl_sim  # noqa: F401 - registers the serl_sim envs
        except ImportError:
            pass
        kwargs = {}
        if v['max_episode_steps'] > 0:
            kwargs['max_episode_steps'] = v['max_episode_steps']
        return as_agent_env(gym.make(v['env'], **kwargs))

    @property
    def expert(self):
        """Return the scripted expert of the direction now acting (None without one)."""
        return self.experts.get(self.direction)

    def _make_expert(self, direction: str = ''):
        if self.v['env'] == 'ros':
            from serl_agent.ros.ros_env import ros_expert
            # a forward-backward task's expert per direction: 'bin_relocation_<direction>'
            task = 'bin_relocation_' + direction if direction else self.v['task']
            return ros_expert(self.env, task)
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
    def _resend(self) -> None:
        for link in self.links.values():
            link.resend(self.v['resend_after'])

    def _publish_diagnostics(self) -> None:
        version, _ = self.slot.get()
        pending = self.pending()
        counts = [link.counts() for link in self.links.values()]
        dropped = sum(c['dropped'] for c in counts)
        acked = sum(c['acknowledged'] for c in counts)
        capacity = self.v['outbox_capacity']
        status = DiagnosticStatus(name=f'{self.get_name()}: actor', hardware_id=self.actor_id)
        status.level, status.message = DiagnosticStatus.OK, 'running'
        if dropped:
            status.level, status.message = DiagnosticStatus.WARN, 'outbox overflowed'
        elif pending > capacity // 2:
            status.level, status.message = DiagnosticStatus.WARN, 'learner not acknowledging'
        if hasattr(self.env, 'state_age') and \
                self.env.state_age() > self.env.settings.state_timeout:
            status.level, status.message = DiagnosticStatus.ERROR, 'robot state stale'
        values = {'policy_version': version, 'episodes': self.episodes_done,
                  'acknowledged': acked, 'unacknowledged': pending, 'dropped': dropped}
        if len(self.directions) == 2:
            values.update(direction=self.direction, resets=self.schedule.resets,
                          out_of_reach_resets=self.schedule.out_of_reach_resets,
                          skipped=self.schedule.skipped)
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
        self.link.send(tr['sequence'], serialize_message(msg))

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
        if any(link.slot.get()[0] is None for link in self.links.values()):
            return False
        return training_done >= due_at

    def publish_summary(self, result, evaluation: bool, round_: int) -> None:
        """Publish one ``EpisodeSummary`` on ``/serl/episode_summary``."""
        version, _ = self.slot.get()
        msg = EpisodeSummary(actor_id=self.actor_id, episode=int(result.episode),
                             steps=int(result.steps),
                             episode_return=float(result.episode_return),
                             success=bool(result.success), evaluation=bool(evaluation),
                             rewarded=bool(result.terminated),
                             evaluation_round=int(round_) if evaluation else 0,
                             total_steps=int(self.total_steps),
                             intervention_steps=int(result.interventions),
                             policy_version=-1 if version is None else int(version),
                             direction=self.direction, resets=self.schedule.resets,
                             out_of_reach_resets=self.schedule.out_of_reach_resets)
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

        Before the first episode it waits up to ``wait_for_receiver`` s for every link's
        learner (or demo recorder) to be matched: a transition published before discovery
        completes reaches nobody until it is re-sent, which a demo recorder (bags in arrival
        order) would not take back into its closed episode.
        """
        self._wait_for_receivers(self.v['wait_for_receiver'])
        env = TeleopEpisodeEnd(self.env, self.teleop) if self.teleop else self.env
        # one runner per direction: each learner gets contiguous sequence numbers
        self.runners = {d: EpisodeRunner(env, self._actor_id_of(d),
                                         max_steps=self.v['max_episode_steps']
                                         if self.v['env'] == 'ros' else 0,
                                         success_hold_steps=self.v['success_hold_steps'])
                        for d in self.directions}
        if len(self.directions) == 2:
            self._run_forward_backward()
            self.drain()
            return
        runner = self.runners[self.direction]
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
                # one named direction (recording one direction's demos): every episode in it
                result = runner.run_episode(self.act, episode, seed=self.v['seed'] + episode,
                                            on_transition=send,
                                            should_stop=self.stop_requested.is_set,
                                            options={'direction': self.direction}
                                            if self.direction else None)
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

    def _wait_for_receivers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(link.transition_pub.get_subscription_count() == 0
                  for link in self.links.values()):
            if time.monotonic() > deadline or self.stop_requested.is_set():
                missing = [link.name for link in self.links.values()
                           if link.transition_pub.get_subscription_count() == 0]
                self.get_logger().info(f'no receiver of transitions yet ({", ".join(missing)}) '
                                       f'after {timeout:.0f} s: starting anyway (they are '
                                       're-sent until acknowledged)')
                return
            time.sleep(0.05)

    def _run_forward_backward(self) -> None:
        """
        Run the directions in turns without resets (see the module docstring) until stopped.

        ``max_episodes`` counts training episodes of both directions; an evaluation round
        runs ``eval_episodes`` episodes of each direction from full resets.
        """
        episode = training_done = round_ = 0
        due_at = self.v['eval_every']
        while rclpy.ok(context=self.context) and not self.stop_requested.is_set():
            if self.v['max_episodes'] and training_done >= self.v['max_episodes']:
                break
            if self.evaluation_due(training_done, due_at):
                for direction in self.directions:
                    for index in range(self.v['eval_episodes']):
                        if self.stop_requested.is_set():
                            break
                        self._episode(direction, episode, {'direction': direction},
                                      evaluation=(round_, index))
                        episode += 1
                round_ += 1
                due_at = training_done + self.v['eval_every']
                continue
            try:
                in_reach = self.env.object_in_reach()
            except RuntimeError as exc:
                self.get_logger().error(f'object_in_reach failed: {exc}')
                self._wait_for_robot()
                continue
            direction, reset = self.schedule.next_episode(in_reach)
            if reset and self.schedule.resets > 1:
                self.get_logger().warn(
                    f'the object left the reachable workspace: scene reset '
                    f'({self.schedule.out_of_reach_resets} such resets so far)')
            options = {'direction': direction}
            if not reset:
                options['keep_objects'] = True
            result = self._episode(direction, episode, options, skip_if_succeeded=not reset)
            if result == 'skipped':   # the goal holds already: the other direction runs
                direction = self.schedule.goal_already_met()
                self.get_logger().info(f'goal already met at the start: {direction} runs')
                result = self._episode(direction, episode,
                                       {'direction': direction, 'keep_objects': True})
            episode += 1
            self.episodes_done = episode
            if result is not None and result != 'skipped':
                training_done += 1

    def _episode(self, direction: str, episode: int, options: dict, evaluation=None,
                 skip_if_succeeded: bool = False):
        """
        Run one forward-backward episode of ``direction``; publish its summary.

        :param evaluation: ``(round, index)`` for an evaluation episode (deterministic, not
            sent to the learner unless ``train_on_evaluation``), None for a training one.
        :returns: the :class:`EpisodeResult`, ``'skipped'`` (the goal held at the start), or
            None when the episode was aborted (stale state, failed reset: logged).
        """
        self.direction = direction
        if self.expert is not None and hasattr(self.expert, 'reset'):
            self.expert.reset()
        self.evaluating = evaluation is not None
        send = None if self.evaluating and not self.v['train_on_evaluation'] \
            else self._send_counted
        try:
            result = self.runners[direction].run_episode(
                self.act, episode, seed=self.v['seed'] + episode, on_transition=send,
                should_stop=self.stop_requested.is_set, options=options,
                skip_if_succeeded=skip_if_succeeded)
        except RuntimeError as exc:   # StaleStateError, reset failures: no command sent
            self.get_logger().error(f'{direction} episode {episode} aborted: {exc}')
            self._wait_for_robot()
            return None
        finally:
            self.evaluating = False
        if result is None:
            return 'skipped'
        version, _ = self.slot.get()
        kind = f'{direction} evaluation {evaluation[0]}.{evaluation[1]}' if evaluation \
            else f'{direction} episode'
        self.get_logger().info(
            f'{kind} {episode}: {result.steps} steps, return {result.episode_return:.2f}, '
            f'{"success" if result.success else "failure"}, policy version {version}, '
            f'resets {self.schedule.resets}')
        if not self.stop_requested.is_set():
            self.publish_summary(result, evaluation is not None,
                                 evaluation[0] if evaluation else 0)
        return result

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
        kept = f' (kept in {self.v["spool_dir"]})' if self.v['spool_dir'] else ''
        self.get_logger().warn(f'{self.pending()} transitions still unacknowledged at exit'
                               + kept)
        return False

    def pending(self) -> int:
        """Return how many transitions (this and earlier actor processes) await an ack."""
        return sum(link.pending() for link in self.links.values())

    def close_spool(self) -> None:
        """Close the on-disk spools; their files are deleted when nothing awaits an ack."""
        for link in self.links.values():
            link.close_spool()

    def summary(self) -> str:
        """One line: transitions sent, acknowledged, unacknowledged, dropped."""
        parts = []
        for direction, link in self.links.items():
            c = link.counts()
            parts.append(f'{direction + ": " if direction else ""}{c["acknowledged"]} '
                         f'transitions acknowledged, {c["unacknowledged"]} unacknowledged, '
                         f'{c["dropped"]} dropped')
        return f'actor {self.actor_id}: ' + '; '.join(parts)


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
