"""
Hyperparameters of the agents, one dataclass each, with the defaults of their papers.

- ``AgentConfig``: what every agent has (the policy network, its batch and learning rate, the
  offline phase on prior data).
- ``SACConfig``: Soft Actor-Critic (Haarnoja et al. 2018, arXiv 1812.05905, Table 1 of its
  App. D, "SAC Hyperparameters"): 2 critics, clipped double Q, tuned temperature, one update
  per env step.
- ``RLPDConfig(SACConfig)``: RLPD (Ball et al. 2023, arXiv 2302.02948), defaults from its
  Table 1: a LayerNorm critic ensemble of 10, UTD 20, symmetric sampling of prior data.
- ``AWACConfig(SACConfig)``: AWAC (Nair et al. 2020, arXiv 2006.09359) with the settings of the
  authors' MuJoCo experiments (rlkit ``examples/awac/mujoco``): no entropy term, lambda 2,
  an offline phase of 50,000 gradient steps.
- ``BCConfig(AgentConfig)``: behaviour cloning of the prior data by maximum likelihood.

Every default below cites where it comes from; values a paper leaves open are marked as this
project's choice. The same defaults, with the same citations, are written in
``config/agent.yaml`` (rlpd), ``config/agent_sac.yaml``, ``config/agent_awac.yaml`` and
``config/agent_bc.yaml``; ``<Config>.from_yaml`` reads such a file (or any subset of its keys).
"""

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar, Optional, Tuple, Union

from serl_agent.agents.precision import PRECISIONS
import yaml

# How a batch is drawn when prior data (demos, earlier runs) is given:
# 'symmetric': exactly N/2 online + N/2 prior (RLPD, Alg. 1);
# 'seeded': uniformly over the union of both buffers, as if the prior data had been put into the
#   replay buffer (the usual way to give SAC demos; AWAC keeps its prior data in the buffer);
# 'online': the prior data is only used by the offline phase, never online.
PRIOR_SAMPLING = ('symmetric', 'seeded', 'online')


@dataclass
class AgentConfig:
    """
    What every agent has: the tanh-Gaussian policy, its encoder, batch and offline phase.

    Raises ``ValueError`` from ``validate()`` (called by ``__post_init__``) naming the bad field.
    """

    # The agent this config is for (registry key in ``serl_agent.agents``); also the section
    # name of its YAML file.
    AGENT: ClassVar[str] = ''

    # Batch size N: 256 (SAC Table 1; RLPD Table 1: 128 online + 128 offline).
    batch_size: int = 256
    # Adam learning rate 3e-4 (SAC Table 1; RLPD Table 1).
    actor_lr: float = 3e-4
    # Network width 256, 2 hidden layers (SAC Table 1; RLPD Table 1/2).
    hidden_dims: Tuple[int, ...] = (256, 256)
    # Policy log-std bounds of the tanh-Gaussian (SAC practice; this project's choice).
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    # Scale of the policy output layer's initial weights: small first actions (robot practice;
    # this project's choice).
    policy_init_scale: float = 0.01
    # Pixel observations: random shift of 4 px (RLPD Table 1, "image shift", DrQ).
    image_shift: int = 4
    # Conv encoder (DrQ-style): filters, latent size (this project's choice).
    encoder_filters: int = 32
    encoder_latent_dim: int = 50
    # Gradient steps on the prior data alone before online training (AWAC's offline phase; 0
    # for RLPD, whose point is that none is needed, Sec. 3).
    offline_steps: int = 0
    # Standardise the state features by running mean and variance of the observations seen
    # (prior data and online; clipped at 10 std), for envs whose features are not scaled near
    # 1 (a raw 0-255 reading beside metres). The statistics are saved with the checkpoint and
    # sent to the actor with the policy. RLPD's practice ("normalise observations", the
    # paper's code for D4RL); off here until measured on this project's tasks
    # (docs/benchmarks.md). This project's choice.
    normalize_observations: bool = False
    # Precision of the learner's matrix products (``serl_agent.agents.precision``): 'fp32';
    # 'bf16' (bf16 products under autocast, fp32 weights, optimiser state, targets and losses:
    # mixed precision, Micikevicius et al. 2018); 'auto' = bf16 where the CPU has AMX or
    # AVX512-BF16 or the CUDA device supports bf16, else fp32. This project's choice
    # (docs/benchmarks.md, "bf16").
    precision: str = 'fp32'
    # Extra, free-form metadata (e.g. the env name) kept with the config in checkpoints.
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        """Normalise types (YAML lists to tuples) and validate."""
        self.hidden_dims = tuple(int(h) for h in self.hidden_dims)
        self.validate()

    def _bad(self, name, why):
        raise ValueError(f'{type(self).__name__}.{name}={getattr(self, name)!r}: {why}')

    def validate(self) -> None:
        """Check ranges; raise ``ValueError`` naming the first bad field."""
        if self.batch_size < 2 or self.batch_size % 2:
            self._bad('batch_size', 'must be an even integer >= 2 (N/2 online + N/2 prior)')
        if not self.actor_lr > 0:
            self._bad('actor_lr', 'must be > 0')
        if not self.hidden_dims or min(self.hidden_dims) < 1:
            self._bad('hidden_dims', 'must be a non-empty list of positive widths')
        if not self.log_std_min < self.log_std_max:
            self._bad('log_std_min', 'must be < log_std_max')
        if self.image_shift < 0:
            self._bad('image_shift', 'must be >= 0')
        if self.offline_steps < 0:
            self._bad('offline_steps', 'must be >= 0')
        if self.precision not in PRECISIONS:
            self._bad('precision', f'must be one of {PRECISIONS}')

    def to_dict(self) -> dict:
        """Plain, YAML/JSON-able dict of all fields."""
        d = dataclasses.asdict(self)
        d['hidden_dims'] = list(self.hidden_dims)
        return d

    @classmethod
    def from_dict(cls, values: dict) -> 'AgentConfig':
        """Build from a dict; unknown keys raise ``ValueError`` naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f'unknown {cls.__name__} keys: {unknown}; known: {sorted(names)}')
        return cls(**values)

    @classmethod
    def from_yaml(cls, path, section: Optional[str] = '', **overrides) -> 'AgentConfig':
        """
        Read a YAML file whose keys sit under a section named after the agent (``rlpd:``).

        ``section=''`` (default) means ``cls.AGENT``; ``None`` reads the top level.
        ``overrides`` replace values from the file. Raises ``ValueError`` naming the file for a
        missing section or bad keys.
        """
        section = cls.AGENT if section == '' else section
        with open(path, 'r', encoding='utf-8') as f:
            data = yaml.safe_load(f) or {}
        if section is not None:
            if section not in data:
                raise ValueError(f'{path}: no "{section}:" section (the {cls.AGENT or "agent"} '
                                 f'settings); sections there: {sorted(data)}')
            data = data[section] or {}
        data.update(overrides)
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as e:
            raise ValueError(f'{path}: {e}') from e


@dataclass
class SACConfig(AgentConfig):
    """
    Soft Actor-Critic over a critic ensemble: the fields RLPD and AWAC share with it.

    Defaults from Haarnoja et al. 2018 (arXiv 1812.05905), App. D Table 1.
    """

    AGENT: ClassVar[str] = 'sac'
    # Target entropy per action dimension when ``target_entropy`` is None: -dim(A) (SAC Table 1).
    TARGET_ENTROPY_PER_DIM: ClassVar[float] = -1.0

    # Adam learning rate 3e-4 for the critics and the temperature (SAC Table 1).
    critic_lr: float = 3e-4
    temperature_lr: float = 3e-4
    # Discount gamma 0.99 (SAC Table 1).
    discount: float = 0.99
    # Reward scale: every reward is multiplied by it in the critic target (SAC, Haarnoja et
    # al. 2018, arXiv 1801.01290, Sec. 5.2 and App. D: the scale sets how much the return
    # weighs against the entropy; 1: rewards as the env gives them). The main job sets 0.1
    # for a log-probability reward in [-10, 0], keeping targets at the 0/1 reward's scale.
    reward_scale: float = 1.0
    # Number of Q-functions: 2 (SAC Sec. 5 / Table 1, clipped double Q as in TD3).
    num_critics: int = 2
    # Size Z of the random subset of target critics whose minimum forms the target: 2 with
    # clipped double Q (RLPD Alg. 1; with 2 critics: SAC's min of both).
    critic_subset_size: int = 2
    # Clipped double Q (SAC; RLPD Table 2 per domain). False sets the subset size to 1.
    clipped_double_q: bool = True
    # Target smoothing coefficient tau = 0.005 (SAC Table 1).
    tau: float = 0.005
    # Gradient steps per env step: 1 (SAC Table 1).
    utd_ratio: int = 1
    # LayerNorm in the critic: none in SAC (RLPD Sec. 4.2 adds it).
    critic_layer_norm: bool = False
    # Initial temperature alpha = 1.0 (SAC's reference code, softlearning).
    init_temperature: float = 1.0
    # Target entropy; None: ``TARGET_ENTROPY_PER_DIM`` x dim(A) (SAC -dim(A), RLPD -dim(A)/2).
    target_entropy: Optional[float] = None
    # Entropy backup: keep -alpha log pi in the critic target (SAC Eq. 3; RLPD Table 2).
    entropy_backup: bool = True
    # Uniform random actions before learning when there is no prior data (this project's
    # choice; SAC's reference code uses 1e4 for MuJoCo).
    random_steps: int = 1000
    # How batches use prior data (``PRIOR_SAMPLING``): SAC is given demos by seeding them into
    # its replay buffer (the usual practice RLPD compares against, Sec. 5.2).
    prior_sampling: str = 'seeded'
    # What the actor learns in the offline phase (``offline_steps`` > 0): 'rl', the agent's own
    # actor step (AWAC's pretraining); 'bc', the deterministic action regressed onto the prior
    # actions (TD3+BC's and IBRL's BC loss), the critics still learning by TD: a warm start
    # from behaviour cloning (as WSRL, Zhou et al. 2024, arXiv 2412.07762, warm-starts online
    # RL from an offline-trained policy).
    offline_actor: str = 'rl'
    # Behaviour-cloning regulariser of the online actor step (0: off, SAC and RLPD as
    # published): actor loss += actor_bc_weight * mean over the batch's prior transitions of
    # ||tanh(mu(s)) - a||^2, the deterministic action pulled toward the demos' actions while RL
    # improves on them (TD3+BC, Fujimoto & Gu 2021, arXiv 2106.06860, Eq. 3, without its
    # Q normalisation; IBRL, Hu et al. 2023, arXiv 2311.02198, keeps a BC policy instead).
    actor_bc_weight: float = 0.0
    # Which action of the actor the BC term pulls toward the demo action: 'mean', tanh(mu(s)),
    # TD3+BC's deterministic action; 'sample', the reparameterised a~ ~ pi(.|s) the Q term
    # scores (TD3+BC's pi(s) is the action its critic scores). E||a~ - a||^2 = ||E a~ - a||^2
    # + the policy's variance: 'sample' also narrows the policy at the demos' states. With
    # 'mean' and a sparse reward nothing narrows it: the temperature only falls while the
    # entropy is above target, and bin relocation's forward policy was at pre-tanh std ~2 per
    # dimension after 8,000 env steps, its sampled actions succeeding 0 of 20 times from
    # resets where its deterministic ones did 19. Yet with 'sample' no seed learned bin
    # relocation faster (docs/benchmarks.md, session 16): its recipe keeps 'mean'.
    actor_bc_action: str = 'mean'
    # torch.compile the critic step (target, loss and its backward; eager if compiling fails):
    # true, false, or 'auto' = on for critics of >= 2e7 multiply-adds per forward when a C++
    # compiler (CPU) or Triton (CUDA) is there (docs/benchmarks.md). This project's choice.
    torch_compile: Union[bool, str] = 'auto'
    # On CUDA, replay the compiled critic step as CUDA graphs (docs/benchmarks.md). No effect
    # on CPU or when eager. This project's choice.
    cuda_graphs: bool = False

    @property
    def effective_subset_size(self) -> int:
        """Z actually used in the target: ``critic_subset_size``, or 1 without clipped double Q."""
        return self.critic_subset_size if self.clipped_double_q else 1

    def validate(self) -> None:
        """Check ranges; raise ``ValueError`` naming the first bad field."""
        super().validate()
        for name in ('critic_lr', 'temperature_lr', 'init_temperature', 'reward_scale'):
            if not getattr(self, name) > 0:
                self._bad(name, 'must be > 0')
        if not 0.0 <= self.discount < 1.0:
            self._bad('discount', 'must be in [0, 1)')
        if self.num_critics < 1:
            self._bad('num_critics', 'must be >= 1')
        if not 1 <= self.critic_subset_size <= self.num_critics:
            self._bad('critic_subset_size', f'must be in [1, num_critics={self.num_critics}]')
        if not 0.0 < self.tau <= 1.0:
            self._bad('tau', 'must be in (0, 1]')
        if self.utd_ratio < 1:
            self._bad('utd_ratio', 'must be >= 1')
        if self.random_steps < 0:
            self._bad('random_steps', 'must be >= 0')
        if self.prior_sampling not in PRIOR_SAMPLING:
            self._bad('prior_sampling', f'must be one of {PRIOR_SAMPLING}')
        if self.offline_actor not in ('rl', 'bc'):
            self._bad('offline_actor', "must be 'rl' or 'bc'")
        if not self.actor_bc_weight >= 0.0:
            self._bad('actor_bc_weight', 'must be >= 0')
        if self.actor_bc_action not in ('mean', 'sample'):
            self._bad('actor_bc_action', "must be 'mean' or 'sample'")
        if self.torch_compile not in (True, False, 'auto'):
            self._bad('torch_compile', "must be true, false or 'auto'")
        if not isinstance(self.cuda_graphs, bool):
            self._bad('cuda_graphs', 'must be true or false')


@dataclass
class RLPDConfig(SACConfig):
    """
    RLPD: SAC with a LayerNorm critic ensemble, a high UTD and symmetric sampling.

    Ball et al. 2023 (arXiv 2302.02948); defaults from its Table 1 ("Table 2": per-domain
    choices).
    """

    AGENT: ClassVar[str] = 'rlpd'
    # Target entropy -|A|/2 (Table 1).
    TARGET_ENTROPY_PER_DIM: ClassVar[float] = -0.5

    # Ensemble size E = 10 (Table 1); Z = 2 of them in the target (Alg. 1).
    num_critics: int = 10
    # Gradient steps G (critic updates per env step) = 20 for state observations (Table 1).
    utd_ratio: int = 20
    # LayerNorm in the critic (Sec. 4.2: the key design choice).
    critic_layer_norm: bool = True
    # Exactly N/2 online + N/2 prior transitions in every batch (Alg. 1, Sec. 3).
    prior_sampling: str = 'symmetric'


@dataclass
class AWACConfig(SACConfig):
    """
    AWAC: TD critics and an actor fit to buffer actions weighted by exp(A(s, a) / lambda).

    Nair et al. 2020 (arXiv 2006.09359), Eq. 13: an offline phase, then online fine-tuning with
    the prior data kept in the buffer. Defaults from the authors' MuJoCo experiments (rlkit
    ``examples/awac/mujoco/awac1.py``, "rlkit" below).
    """

    AGENT: ClassVar[str] = 'awac'

    # Batch 1024 (rlkit).
    batch_size: int = 1024
    # No entropy term: alpha = 0, no temperature tuning (rlkit: alpha 0,
    # use_automatic_entropy_tuning False); the actor is fit by weighted likelihood instead.
    entropy_backup: bool = False
    # lambda of exp(A / lambda) (Eq. 13): 2 (rlkit's MuJoCo sweep, "beta").
    awac_lambda: float = 2.0
    # Normalise the weights over the batch (softmax over the batch x N, so they average 1), as
    # the authors' implementation does (rlkit ``AWACTrainer``); False: raw exp(A / lambda).
    normalize_weights: bool = True
    # Clip of raw weights when not normalised (guards exp overflow; this project's choice).
    max_weight: float = 100.0
    # L2 weight decay of the policy 1e-4 (rlkit policy_weight_decay).
    actor_weight_decay: float = 1e-4
    # Policy log-std bounds [-6, 0] (rlkit's GaussianPolicy min/max_log_std).
    log_std_min: float = -6.0
    log_std_max: float = 0.0
    # Offline phase: 50,000 gradient steps on the prior data (rlkit q_num_pretrain2_steps).
    offline_steps: int = 50000
    # The prior data stays in the buffer online (Sec. 4; rlkit adds demos and off-policy data
    # to the replay buffer).
    prior_sampling: str = 'seeded'

    def validate(self) -> None:
        """Check ranges; raise ``ValueError`` naming the first bad field."""
        super().validate()
        for name in ('awac_lambda', 'max_weight'):
            if not getattr(self, name) > 0:
                self._bad(name, 'must be > 0')
        if self.actor_weight_decay < 0:
            self._bad('actor_weight_decay', 'must be >= 0')


@dataclass
class BCConfig(AgentConfig):
    """
    Behaviour cloning: the policy fit to the prior data's actions by maximum likelihood.

    No online learning (the baseline of RLPD Sec. 5 and AWAC Sec. 5).
    """

    AGENT: ClassVar[str] = 'bc'

    # Policy log-std bounds [-6, 0], as AWAC's likelihood-trained policy (rlkit's
    # GaussianPolicy): the likelihood of near-deterministic demo actions would otherwise drive
    # the std to exp(-20).
    log_std_min: float = -6.0
    log_std_max: float = 0.0
    # Gradient steps on the demos (this project's choice: the pick-cube demos' likelihood
    # stops improving well before; docs/benchmarks.md).
    offline_steps: int = 10000


CONFIGS = {c.AGENT: c for c in (SACConfig, RLPDConfig, AWACConfig, BCConfig)}


def config_class(agent: str):
    """Return the config dataclass of agent ``agent``; ``ValueError`` naming the known ones."""
    try:
        return CONFIGS[agent]
    except KeyError:
        raise ValueError(f'unknown agent {agent!r}; known: {sorted(CONFIGS)}') from None
