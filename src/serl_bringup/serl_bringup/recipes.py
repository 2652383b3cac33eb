"""
What varies between the main job's tasks and reward forms, as data ``serl_train`` reads.

- :data:`TASKS`: a :class:`TaskRecipe` per sim task: what the learner observes, the cameras,
  the run directory, the episode length, forward-backward directions, the agent settings the
  task needs over config/agent_pick_cube.yaml.
- :data:`REWARD_SCALES`: a :class:`RewardScale` per reward form (``--reward-scale``): the
  reward node's mode and the agent and actor settings that fit it.

A new task or reward form is a new entry here, not a branch in :mod:`serl_bringup.main_job`.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Tuple

STATE_KEYS = ('tcp_pose', 'tcp_vel', 'gripper_width', 'object_pos', 'object_rel')
CAMERAS = ('front', 'wrist')
#: what a real FR3 reports of itself (franka_ros2 state broadcaster and gripper)
PROPRIOCEPTION = ('tcp_pose', 'tcp_vel', 'gripper_width')


@dataclass(frozen=True)
class TaskRecipe:
    """
    What the learner of one sim task observes: the variation between tasks, as data.

    :ivar observation_keys: the learner's ``observation_keys`` (cameras included for a
        vision task: they become features when they enter its buffers).
    :ivar cameras: the actor's ``image_keys`` while it trains (``/cameras/<key>/image_raw``).
    :ivar object_pose: whether the actor observes ``/sim/object_pose`` (sim only).
    :ivar image_encoder: pretrain the frozen image encoders (``serl_pretrain_encoder``,
        behaviour cloning of the demos) and give them to the learner and the actor.
    :ivar run_dir: the run directory when ``--run-dir`` is not given.
    :ivar episode_steps: env steps per episode when ``--episode-steps`` is not given (10 Hz).
    :ivar max_env_steps: the job's env-step budget when ``--max-env-steps`` is not given (both
        directions together for forward-backward).
    :ivar directions: forward-backward (reset-free) training: demos, failure episodes, reward
        classifier, learner and policy per direction, in ``<run_dir>/<direction>`` or
        ``<run_dir>/demos/<direction>``; ``()``: one task, one policy.
    :ivar agent: per agent name, config fields that replace config/agent_pick_cube.yaml's for
        this task (not applied over a user's ``--agent-config``; ``--agent-set`` wins).
    :ivar extra_demo_starts: the sim task's other start areas (its ``start_area`` values,
        sim_node's parameter) to record ``--demos`` more demos from each, per direction, in
        ``<run_dir>/demos/<direction>/<area>``: bin relocation's ``'tray'`` (anywhere the cube
        can be picked up outside the target), the starts a reset-free episode meets.
    """

    observation_keys: Tuple[str, ...]
    cameras: Tuple[str, ...] = ()
    object_pose: bool = True
    image_encoder: bool = False
    run_dir: str = 'runs/pick_cube'
    episode_steps: int = 50
    max_env_steps: int = 10000
    directions: Tuple[str, ...] = ()
    agent: Dict[str, Dict[str, object]] = field(default_factory=dict)
    extra_demo_starts: Tuple[str, ...] = ()


#: Bin relocation's RLPD agents keep the demos' actions in the actor's loss (TD3+BC's term,
#: ``actor_bc_weight``): without it the policies stayed at 0 % for 14,000-24,000 env steps
#: and reached both directions >= 90 % in 1 of 6 runs within 30,000; with it, 6,000-8,000 on
#: 3 of 3 seeds (with the fingers at the gripper's real speed: 10,000 on 2 of 3, the third
#: not within 30,000; docs/benchmarks.md, "Forward-backward", session 15; with the tray's
#: sloped side walls and the demos from anywhere in it, 4,000-6,000 on 3 of 3, session 17).
#: On the mean action (TD3+BC's); on the sampled action (``actor_bc_action: sample``) no seed
#: did better (session 16).
FORWARD_BACKWARD_AGENT = {'rlpd': {'actor_bc_weight': 1.0}}

TASKS = {
    'PandaPickCube-v0': TaskRecipe(STATE_KEYS),
    # what SERL and HIL-SERL learn from on the robot: wrist and front cameras + proprioception
    'PandaPickCubeVision-v0': TaskRecipe(PROPRIOCEPTION + CAMERAS, cameras=CAMERAS,
                                         object_pose=False, image_encoder=True,
                                         run_dir='runs/pick_cube_vision'),
    # SERL's bin relocation, reset-free: forward (A -> B) and backward (B -> A) in turns
    'PandaBinRelocation-v0': TaskRecipe(STATE_KEYS, run_dir='runs/bin_relocation',
                                        episode_steps=100, max_env_steps=30000,
                                        directions=('forward', 'backward'),
                                        agent=FORWARD_BACKWARD_AGENT,
                                        extra_demo_starts=('tray',)),
    'PandaBinRelocationVision-v0': TaskRecipe(
        PROPRIOCEPTION + CAMERAS, cameras=CAMERAS, object_pose=False, image_encoder=True,
        run_dir='runs/bin_relocation_vision', episode_steps=100, max_env_steps=30000,
        directions=('forward', 'backward'), agent=FORWARD_BACKWARD_AGENT,
        extra_demo_starts=('tray',)),
}


@dataclass(frozen=True)
class RewardScale:
    """
    How the classifier's output becomes the reward (``--reward-scale``), as data.

    :ivar node_mode: the reward node's ``mode``: 'sparse' (1 above the threshold, else 0:
        SERL's classifier reward) or 'vice' (log p(success | s) clipped at -10: VICE, Fu et
        al. 2018, Eq. 5).
    :ivar agent: agent config fields that fit the scale (over the agent config's).
    :ivar actor: actor parameters: ``missing_reward``, the reward of a step whose /reward
        came too late (the scale's "no success").
    """

    node_mode: str
    agent: Dict[str, float] = field(default_factory=dict)
    actor: Dict[str, float] = field(default_factory=dict)


REWARD_SCALES = {
    'sparse': RewardScale('sparse'),
    # log p in [-10, 0] (serl_reward.classifier.MIN_LOG_PROBABILITY, not imported: torch):
    # scaled by 0.1 in the critic target to [-1, 0], the magnitude of the 0/1 reward the
    # agent settings (config/agent_pick_cube.yaml) were measured with
    'log_p': RewardScale('vice', {'reward_scale': 0.1}, {'missing_reward': -10.0}),
}


def directions_of(args) -> Tuple[str, ...]:
    """Return the task's directions (forward-backward), or ``('',)`` for one policy."""
    return TASKS[args.task].directions or ('',)


def direction_dir(directory: Path, direction: str) -> Path:
    """Return ``directory/<direction>`` (forward-backward) or ``directory``."""
    return directory / direction if direction else directory
