"""
The learner's logic without ROS: receive transitions durably, train an agent in a thread.

Data path (called from the ROS callback thread): :meth:`Learner.receive` takes the CDR bytes of
one ``serl_msgs/Transition``, drops duplicates by ``(actor_id, sequence)``, appends new ones to
the run's spool file (``run_dir/transitions.spool``) and queues them for the training thread.
:meth:`Learner.persist` fsyncs the spool and returns the acknowledgement watermarks: a
transition is acknowledged only once it is on disk.

Training (its own thread, :meth:`Learner.start`): first the agent's offline phase on the demo
buffer, if its config has one (AWAC's pretraining, BC's whole training; none for RLPD and SAC),
in chunks of ``OFFLINE_CHUNK`` gradient steps; then it drains the queue into the online replay
buffer and calls ``agent.update(online, demo)`` (RLPD, Ball et al. 2023, Alg. 1: G critic
updates and one actor update per call, batches half online, half demo) no faster than the
agent's configured UTD (``utd_ratio`` critic updates per received env step; ``max_utd`` sets
another ratio), so that what is learnt per env step does not depend on the machine's speed;
``flat_out`` trains as fast as the CPU allows instead. The agent is
``settings.agent`` (``serl_agent.agents.registry``: sac, rlpd, awac, bc). Every
``publish_every`` actor updates the policy weights are offered to the node; every
``checkpoint_every`` seconds the agent is checkpointed with ``serl_agent.data.checkpoint``.

Restart: the run directory is resumed when it exists: the agent from the latest checkpoint,
the online buffer and the duplicate filter from the spool (every transition ever
acknowledged), so a learner killed at any moment loses no acknowledged transition. The spool
is the run's complete online data set and grows without bound (about 0.5 kB per state
transition; a vision transition with two 128x128 sim images, 193 kB, is stored zlib-compressed
in about 27 kB); a restart reads it whole.
"""

from dataclasses import dataclass
import logging
from pathlib import Path
import queue
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import gymnasium as gym
import numpy as np

from serl_agent.agents.base import Agent
from serl_agent.agents.config import AgentConfig, config_class
from serl_agent.agents.registry import load_config, make_agent
from serl_agent.data import checkpoint
from serl_agent.data.acknowledgement import AckTracker
from serl_agent.data.bag_io import make_typestore, read_transitions, TRANSITION_TYPE
from serl_agent.data.demo_buffer import check_transition, load_demo_data, select_keys
from serl_agent.data.policy_io import encode_policy
from serl_agent.data.prior_data import check_paths, load_prior_buffer
from serl_agent.data.replay import ReplayBuffer
from serl_agent.data.transition_codec import observation_space_from, transition_to_dict
from serl_agent.data.transition_spool import read_spool, TransitionSpool

SPOOL_NAME = 'transitions.spool'
# Offline gradient steps per training-loop turn: weights, checkpoints and stop requests are
# served between two chunks.
OFFLINE_CHUNK = 100
#: env steps a status window needs before its own UTD is reported (else the run's ratio)
UTD_WINDOW_MIN_STEPS = 5
log = logging.getLogger('serl_agent.runtime.learner')


@dataclass
class LearnerSettings:
    """
    Learner parameters (the node reads them from ``config/agent_nodes.yaml``).

    :ivar run_dir: run directory (checkpoints, spool); resumed when it exists.
    :ivar agent: the agent's name (``serl_agent.agents.registry.AGENTS``: sac, rlpd, awac, bc).
    :ivar demo_paths: demo bag paths for the demo buffer (empty: online data only).
    :ivar prior_paths: more prior data for the same buffer: earlier runs (learner run dirs with
        a spool, ``serl_train_gym`` run dirs, directories of bags;
        :mod:`serl_agent.data.prior_data`), successes and failures alike.
    :ivar successful_demos_only: keep only demo episodes marked successful.
    :ivar online_capacity: online replay buffer capacity (transitions); lowered to fit
        ``max_buffer_gb`` (images: about 196 kB per transition for two 128x128 cameras).
    :ivar max_buffer_gb: memory the online buffer may take, GB.
    :ivar training_starts: online transitions received before the first update.
    :ivar max_utd: most critic updates per received env step; 0: the agent's configured
        ``utd_ratio`` (one ``agent.update`` per env step). The learner holds this ratio: it
        waits for env steps when ahead, and falls behind only where the CPU is too slow.
    :ivar flat_out: train as fast as the CPU allows, ignoring ``max_utd`` (the achieved UTD
        then depends on the machine and on the actor's pauses, e.g. evaluation rounds).
    :ivar publish_every: actor updates between two weight publications.
    :ivar checkpoint_every: seconds between checkpoints.
    :ivar checkpoints_kept: checkpoints kept on disk.
    :ivar gap_timeout: seconds before a missing sequence number is given up when acking.
    :ivar seed: seed of the agent.
    :ivar device: torch device.
    :ivar intervention_capacity: transitions marked ``intervention`` (a person took over,
        HIL-SERL) kept in the demo buffer too, beside the demos (allocated up front: about
        0.2 MB each with two 128x128 cameras); 0: online buffer only.
    :ivar observation_keys: observation keys the agent learns from (e.g. the state keys of
        demos that also carry images); empty: every key of the first transition.
    :ivar image_encoder: frozen image encoder file (``serl_pretrain_encoder``); when given, the
        camera images of every transition (demos, spool, received) are replaced by their
        features as they enter, so the buffers and the agent hold features and
        proprioception; empty: images, if any, go to the agent (DrQ, end to end).
    """

    run_dir: str = 'runs/default'
    agent: str = 'rlpd'
    demo_paths: Tuple[str, ...] = ()
    prior_paths: Tuple[str, ...] = ()
    successful_demos_only: bool = False
    online_capacity: int = 200000
    max_buffer_gb: float = 8.0
    training_starts: int = 100
    max_utd: float = 0.0
    flat_out: bool = False
    publish_every: int = 10
    checkpoint_every: float = 60.0
    checkpoints_kept: int = 2
    gap_timeout: float = 60.0
    seed: int = 0
    device: str = 'cpu'
    observation_keys: Tuple[str, ...] = ()
    intervention_capacity: int = 5000
    image_encoder: str = ''


class Learner:
    """
    Learner of any agent over received transitions; see the module docstring.

    :param settings: :class:`LearnerSettings`.
    :param config: the agent's config (``settings.agent``'s config class; its defaults when
        None).
    :raises ValueError: an unknown agent, or a config of another agent's class.
    :raises serl_agent.data.bag_io.BagError: a demo bag is missing or corrupt.
    :raises serl_agent.data.prior_data.PriorDataError: a prior-data path is missing, holds no
        transitions, or transitions that do not fit the demos' (checked before any training).
    :raises serl_agent.data.checkpoint.CheckpointError: the run's checkpoint is corrupt.
    :raises serl_agent.data.transition_spool.SpoolError: the run's spool file is corrupt.
    :raises serl_agent.vision.image_features.EncoderFileError: the image encoder file is
        missing or corrupt.
    """

    def __init__(self, settings: LearnerSettings, config: Optional[AgentConfig] = None):
        self.settings = settings
        check_paths(settings.prior_paths)
        self.features = None
        if settings.image_encoder:
            from serl_agent.vision.image_features import ImageFeatures
            self.features = ImageFeatures.from_file(settings.image_encoder)
            if settings.prior_paths:
                raise ValueError('prior_paths with an image_encoder: prior data are not '
                                 'encoded yet; give the bags as demo_paths')
        self.config = config if config is not None else load_config(settings.agent)
        if type(self.config) is not config_class(settings.agent):
            raise ValueError(f'agent {settings.agent!r} needs a '
                             f'{config_class(settings.agent).__name__}, got a '
                             f'{type(self.config).__name__}')
        self.run_dir = checkpoint.open_run(settings.run_dir)
        self.typestore = make_typestore()
        self.tracker = AckTracker(settings.gap_timeout)
        self.agent: Optional[Agent] = None
        self.online: Optional[ReplayBuffer] = None
        self.demo: Optional[ReplayBuffer] = None
        self.demo_summary: List = []
        self.observation_space: Optional[gym.spaces.Dict] = None
        self.action_space: Optional[gym.spaces.Box] = None
        self.env_steps = 0
        self.interventions = 0
        self.resumed_from: Optional[Path] = None
        self._queue: 'queue.Queue[dict]' = queue.Queue()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._weights: Optional[Tuple[int, str, bytes]] = None
        self._metrics: Dict[str, float] = {}
        self._window: List[Dict[str, float]] = []
        self._last_status = (time.monotonic(), 0, 0)
        self.error: Optional[BaseException] = None

        if settings.demo_paths:  # spaces from the first demo transition: weights at once
            first = next(iter(read_transitions(list(settings.demo_paths), self.typestore)),
                         None)
            if first is not None:
                self._build(self._select(transition_to_dict(first.msg)))
        spooled = 0
        for data in read_spool(self.run_dir / SPOOL_NAME):
            msg = self.typestore.deserialize_cdr(data, TRANSITION_TYPE)
            if self.tracker.receive(str(msg.actor_id), int(msg.sequence)):
                self._queue.put(self._select(transition_to_dict(msg)))
                spooled += 1
        self.tracker.persisted(time.monotonic())
        self.spooled_on_start = spooled
        self.spool = TransitionSpool(self.run_dir / SPOOL_NAME)
        self._drain()

    # ------------------------------------------------------------------ data path
    def receive(self, data: bytes) -> bool:
        """
        Take one CDR-serialised ``serl_msgs/Transition``; return False for a duplicate.

        :raises ValueError: a malformed transition, a non-finite action or reward, or one that
            does not fit the agent's spaces (``DemoError``); nothing is stored or acked.
        """
        msg = self.typestore.deserialize_cdr(bytes(data), TRANSITION_TYPE)
        actor, seq = str(msg.actor_id), int(msg.sequence)
        if self.tracker.seen(actor, seq):
            return False
        tr = self._select(transition_to_dict(msg))  # validates before anything is stored
        if not np.all(np.isfinite(tr['action'])) or not np.isfinite(tr['reward']):
            raise ValueError(f'transition {actor}/{seq} has a non-finite action or reward')
        if self.observation_space is not None:
            check_transition(tr, self.observation_space, self.action_space)
        self.tracker.receive(actor, seq)
        self.spool.append(data)
        self._queue.put(tr)
        return True

    def persist(self) -> Dict[str, int]:
        """Fsync the spool; return ``{actor_id: sequence}`` acknowledgements that changed."""
        self.spool.sync()
        return self.tracker.persisted(time.monotonic())

    def watermarks(self) -> Dict[str, int]:
        """Return every actor's current acknowledgement watermark."""
        return dict(self.tracker.watermark)

    # ------------------------------------------------------------------ agent and buffers
    def _select(self, tr: dict) -> dict:
        tr = select_keys(tr, self.settings.observation_keys)
        return tr if self.features is None else self.features.transition(tr)

    def _build(self, tr: dict) -> None:
        n = int(np.asarray(tr['action']).shape[0])
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n,), np.float32)
        space = observation_space_from(tr['observation'])
        # self.agent is assigned last: the node's status timer reads ready() from another
        # thread, and an agent without its buffers made it fail (len(None))
        agent = make_agent(self.settings.agent, space, self.action_space, self.config,
                           device=self.settings.device, seed=self.settings.seed)
        self.online = ReplayBuffer(space, self.action_space, self.online_capacity(space, n),
                                   device=self.settings.device)
        self.observation_space = space  # last: receive() validates against it from now on
        if self.settings.demo_paths:
            self.demo, self.demo_summary = load_demo_data(
                list(self.settings.demo_paths), self.observation_space, self.action_space,
                successful_only=self.settings.successful_demos_only,
                typestore=self.typestore, observation_keys=self.settings.observation_keys,
                transform=None if self.features is None else self.features.transition)
        if self.settings.prior_paths:
            prior = load_prior_buffer(self.settings.prior_paths, space, self.action_space)
            log.info('prior data: %d transitions from %s', len(prior),
                     ', '.join(self.settings.prior_paths))
            self.demo = prior if self.demo is None else ReplayBuffer.concatenate([self.demo,
                                                                                  prior])
        # Room for the operator's interventions beside the demos (HIL-SERL keeps them in the
        # demo buffer too); when it is full the oldest entries are overwritten.
        if self.settings.intervention_capacity > 0:
            room = ReplayBuffer(space, self.action_space,
                                (len(self.demo) if self.demo is not None else 0)
                                + self.settings.intervention_capacity)
            if self.demo is not None:
                room.extend(self.demo)
            self.demo = room
        agent.observe_buffer(self.demo)   # a checkpoint below restores its own statistics
        restored = checkpoint.load(self.run_dir, agent)
        if restored is not None:
            self.resumed_from = restored['path']
            log.info('resumed agent from %s', restored['path'])
        self.agent = agent
        self._publish_weights()

    def online_capacity(self, space: gym.spaces.Dict, action_dim: int) -> int:
        """Return ``online_capacity``, lowered so that the buffer fits ``max_buffer_gb``."""
        per = 2 * sum(int(np.prod(b.shape)) * np.dtype(b.dtype).itemsize
                      for b in space.spaces.values()) + 4 * action_dim + 12
        fits = int(self.settings.max_buffer_gb * 1e9 // per)
        if fits < self.settings.online_capacity:
            log.warning('online buffer capacity %d lowered to %d (%.0f kB per transition, '
                        'max_buffer_gb %.1f)', self.settings.online_capacity, fits, per / 1e3,
                        self.settings.max_buffer_gb)
        return max(1, min(self.settings.online_capacity, fits))

    def _drain(self) -> int:
        n = 0
        while True:
            try:
                tr = self._queue.get_nowait()
            except queue.Empty:
                return n
            if self.agent is None:
                self._build(tr)
            self.online.insert(tr['observation'], tr['action'], tr['reward'],
                               tr['next_observation'], tr['terminated'], tr['truncated'])
            if tr.get('intervention') and self.settings.intervention_capacity > 0:
                # a person's correction is also demonstration data (HIL-SERL)
                self.demo.insert(tr['observation'], tr['action'], tr['reward'],
                                 tr['next_observation'], tr['terminated'], tr['truncated'])
                self.interventions += 1
            # Normalisation statistics (if on). After a restart the spooled transitions are
            # folded in again on top of the checkpoint's statistics: old data weighs double.
            self.agent.observe(tr['observation'])
            self.env_steps += 1
            n += 1

    # ------------------------------------------------------------------ training
    def offline_phase(self) -> bool:
        """Return True while the agent has offline gradient steps left on demo data."""
        return (self.agent is not None and self.demo is not None and len(self.demo) > 0
                and self.agent.offline_steps_left > 0)

    @property
    def utd_limit(self) -> float:
        """Most critic updates per env step: ``max_utd``, else the agent's ``utd_ratio``."""
        if self.settings.max_utd > 0:
            return float(self.settings.max_utd)
        return float(getattr(self.config, 'utd_ratio', 1))

    def ready(self) -> bool:
        """Return True when there are enough online transitions to train."""
        return self.agent is not None and len(self.online) >= max(1, self.settings.training_starts)

    def train_step(self) -> bool:
        """
        Run a chunk of the offline phase, else one ``agent.update``; return True if one ran.

        ``agent.update`` runs when there is enough data and the UTD limit allows it.

        Weights are offered every ``publish_every`` actor updates, and when the offline phase
        ends.
        """
        self._drain()
        if self.offline_phase():
            metrics = self.agent.pretrain(self.demo, OFFLINE_CHUNK)
            with self._lock:
                self._window.append(metrics)
            if not self.offline_phase():
                log.info('offline phase done: %d gradient steps on %d demo transitions',
                         self.agent.offline_updates, len(self.demo))
                self._publish_weights()
            return True
        if not self.ready() or not self.agent.learns_online:
            return False
        per_update = getattr(self.config, 'utd_ratio', 1)
        if not self.settings.flat_out and (self.agent.critic_updates + per_update
                                           > self.utd_limit * self.env_steps):
            return False
        metrics = self.agent.update(self.online, self.demo if self.demo is not None and
                                    len(self.demo) else None)
        with self._lock:
            self._window.append(metrics)
        if self.agent.actor_updates % max(1, self.settings.publish_every) == 0:
            self._publish_weights()
        return True

    def _publish_weights(self) -> None:
        config_json, data = encode_policy(self.agent)
        with self._lock:
            self._weights = (self.agent.actor_updates, config_json, data)

    def take_weights(self) -> Optional[Tuple[int, str, bytes]]:
        """Return ``(version, config_json, data)`` new since the last call, else None."""
        with self._lock:
            weights, self._weights = self._weights, None
        return weights

    def save_checkpoint(self) -> Optional[Path]:
        """Checkpoint the agent (call from the training thread or after :meth:`stop`)."""
        if self.agent is None:
            return None
        return checkpoint.save(self.run_dir, self.agent,
                               counters={'env_steps': self.env_steps},
                               keep=self.settings.checkpoints_kept)

    def _run(self) -> None:
        last_ckpt = time.monotonic()
        try:
            while not self._stop.is_set():
                if not self.train_step():
                    self._stop.wait(0.01)
                if time.monotonic() - last_ckpt >= self.settings.checkpoint_every:
                    self.save_checkpoint()
                    last_ckpt = time.monotonic()
        except BaseException as exc:  # noqa: B902 - reported by the node, then re-raised
            self.error = exc
            log.exception('training thread failed')
            raise

    def start(self) -> None:
        """Start the training thread."""
        self._thread = threading.Thread(target=self._run, name='rlpd_training', daemon=True)
        self._thread.start()

    def stop(self, save: bool = True) -> None:
        """Stop the training thread, sync the spool and (by default) checkpoint."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.spool.sync()
        if save and self.error is None:
            self.save_checkpoint()
        self.spool.close()

    # ------------------------------------------------------------------ status
    def status(self) -> Dict[str, float]:
        """
        Progress since the previous call (the node publishes it as LearnerStatus).

        :returns: env_steps, critic_updates, actor_updates, achieved_utd (critic updates per
            env step received in the window; the run's overall ratio when the window saw
            fewer than :data:`UTD_WINDOW_MIN_STEPS` new steps, whose ratio says little: a
            held learner answers each step with its updates a moment later), run_utd (critic
            updates per env step over the run), updates_per_second, temperature,
            critic_loss, actor_loss (means over the window's updates; NaN when the window saw
            no update, which is no training divergence: a diverged loss stops training with
            ``FloatingPointError``), updates
            (``agent.update`` calls in the window), interventions (transitions a person
            drove, put into the demo buffer too), demo_buffer (its size).
        """
        now = time.monotonic()
        with self._lock:
            window, self._window = self._window, []
        critic = self.agent.critic_updates if self.agent is not None else 0
        actor = self.agent.actor_updates if self.agent is not None else 0
        t0, steps0, critic0 = self._last_status
        self._last_status = (now, self.env_steps, critic)
        d_steps, d_critic = self.env_steps - steps0, critic - critic0
        run_utd = critic / self.env_steps if self.env_steps else 0.0
        utd = d_critic / d_steps if d_steps >= UTD_WINDOW_MIN_STEPS else run_utd
        mean = {}
        for k in ('critic_loss', 'actor_loss'):
            values = [m[k] for m in window if k in m]
            mean[k] = float(np.mean(values)) if values else float('nan')
        return {'env_steps': self.env_steps, 'critic_updates': critic, 'actor_updates': actor,
                'interventions': self.interventions,
                'demo_buffer': len(self.demo) if self.demo is not None else 0,
                'achieved_utd': float(utd), 'run_utd': float(run_utd),
                'updates_per_second': d_critic / max(now - t0, 1e-9),
                'temperature': self.agent.temperature if self.agent is not None else 0.0,
                'updates': len(window), **mean}


def demo_paths_from(values: Sequence[str]) -> Tuple[str, ...]:
    """Clean a demo path list from a ROS parameter (drops empty strings)."""
    return tuple(v for v in values if v)
