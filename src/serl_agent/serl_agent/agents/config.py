"""
RLPD hyperparameters (Ball et al. 2023, arXiv 2302.02948), defaults from its Table 1.

Every default below cites where it comes from: "Table 1" and "Table 2" are the tables of the
RLPD paper, "Alg. 1" its Algorithm 1. Values that the paper leaves open are marked as this
project's choice. The same defaults are written, with the same citations, in
``config/agent.yaml``; ``RLPDConfig.from_yaml`` reads that file (or any subset of its keys).
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

import yaml


@dataclass
class RLPDConfig:
    """
    Hyperparameters of the RLPD agent (SAC + critic ensemble + LayerNorm + high UTD).

    Raises ``ValueError`` from ``validate()`` (called by ``__post_init__``) naming the bad field.
    """

    # Batch size N: 128 online + 128 offline (Table 1); exactly N/2 from each (Alg. 1).
    batch_size: int = 256
    # Adam learning rate 3e-4 for actor, critic and temperature (Table 1).
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    temperature_lr: float = 3e-4
    # Discount gamma 0.99 (Table 1).
    discount: float = 0.99
    # Ensemble size E = 10 (Table 1).
    num_critics: int = 10
    # Size Z of the random subset of target critics whose minimum forms the target; Alg. 1
    # picks Z in {1, 2}: 2 with clipped double Q, 1 without (Table 2 makes CDQ per-domain).
    critic_subset_size: int = 2
    # Clipped double Q (Table 2, per domain). False sets the subset size to 1.
    clipped_double_q: bool = True
    # Critic target EMA weight rho = 0.005 (Table 1).
    tau: float = 0.005
    # Gradient steps G (critic updates per env step) = 20 for state observations (Table 1).
    utd_ratio: int = 20
    # Network width 256 (Table 1); depth 2 or 3 layers per domain (Table 2): 2 here.
    hidden_dims: Tuple[int, ...] = (256, 256)
    # LayerNorm in the critic (Sec. 4.2 of the paper: the key design choice).
    critic_layer_norm: bool = True
    # Initial temperature alpha = 1.0 (Table 1).
    init_temperature: float = 1.0
    # Target entropy -|A|/2 (Table 1); None means "compute -|A|/2 from the action space".
    target_entropy: Optional[float] = None
    # Entropy backup: keep -alpha log pi in the critic target (Table 2, per domain).
    entropy_backup: bool = True
    # Policy log-std bounds of the tanh-Gaussian (SAC practice; this project's choice).
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    # Scale of the policy output layer's initial weights: small first actions (robot practice;
    # this project's choice).
    policy_init_scale: float = 0.01
    # Pixel observations: random shift of 4 px (Table 1, "image shift", DrQ).
    image_shift: int = 4
    # Conv encoder (DrQ-style, shared by the critics): filters, latent size (project's choice).
    encoder_filters: int = 32
    encoder_latent_dim: int = 50
    # Random actions before the policy acts, only when no demo buffer is given (loop setting;
    # this project's choice).
    random_steps: int = 1000
    # torch.compile the critic step (target, loss and its backward; eager if compiling fails):
    # true, false, or 'auto' = on for critics of >= 5e7 multiply-adds per forward (Table 1's
    # E = 10, 256 x 256, N = 256 has 1.8e8; ~20 % less CPU time per update there, after a
    # one-time warm-up of 10-30 s, cached on disk by torch) when a C++ compiler (CPU) or
    # Triton (CUDA) is there; small networks stay eager. This project's choice.
    torch_compile: Union[bool, str] = 'auto'
    # On CUDA, replay the compiled critic step (forward and backward) as CUDA graphs (inductor's
    # 'reduce-overhead'): one launch per graph instead of one per kernel, which is what bounds
    # these small networks on a GPU (docs/benchmarks.md). No effect on CPU or when eager.
    # This project's choice.
    cuda_graphs: bool = False
    # Extra, free-form metadata (e.g. the env name) kept with the config in checkpoints.
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        """Normalise types (YAML lists to tuples) and validate."""
        self.hidden_dims = tuple(int(h) for h in self.hidden_dims)
        self.validate()

    @property
    def effective_subset_size(self) -> int:
        """Z actually used in the target: ``critic_subset_size``, or 1 without clipped double Q."""
        return self.critic_subset_size if self.clipped_double_q else 1

    def validate(self) -> None:
        """Check ranges; raise ``ValueError`` naming the first bad field."""
        def bad(name, why):
            raise ValueError(f'RLPDConfig.{name}={getattr(self, name)!r}: {why}')

        if self.batch_size < 2 or self.batch_size % 2:
            bad('batch_size', 'must be an even integer >= 2 (N/2 online + N/2 demo)')
        for name in ('actor_lr', 'critic_lr', 'temperature_lr', 'init_temperature'):
            if not getattr(self, name) > 0:
                bad(name, 'must be > 0')
        if not 0.0 <= self.discount < 1.0:
            bad('discount', 'must be in [0, 1)')
        if self.num_critics < 1:
            bad('num_critics', 'must be >= 1')
        if not 1 <= self.critic_subset_size <= self.num_critics:
            bad('critic_subset_size', f'must be in [1, num_critics={self.num_critics}]')
        if not 0.0 < self.tau <= 1.0:
            bad('tau', 'must be in (0, 1]')
        if self.utd_ratio < 1:
            bad('utd_ratio', 'must be >= 1')
        if not self.hidden_dims or min(self.hidden_dims) < 1:
            bad('hidden_dims', 'must be a non-empty list of positive widths')
        if not self.log_std_min < self.log_std_max:
            bad('log_std_min', 'must be < log_std_max')
        if self.image_shift < 0:
            bad('image_shift', 'must be >= 0')
        if self.random_steps < 0:
            bad('random_steps', 'must be >= 0')
        if self.torch_compile not in (True, False, 'auto'):
            bad('torch_compile', "must be true, false or 'auto'")
        if not isinstance(self.cuda_graphs, bool):
            bad('cuda_graphs', 'must be true or false')

    def to_dict(self) -> dict:
        """Plain, YAML/JSON-able dict of all fields."""
        d = dataclasses.asdict(self)
        d['hidden_dims'] = list(self.hidden_dims)
        return d

    @classmethod
    def from_dict(cls, values: dict) -> 'RLPDConfig':
        """Build from a dict; unknown keys raise ``ValueError`` naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f'unknown RLPDConfig keys: {unknown}; known: {sorted(names)}')
        return cls(**values)

    @classmethod
    def from_yaml(cls, path, section: Optional[str] = 'rlpd', **overrides) -> 'RLPDConfig':
        """
        Read a YAML file (``config/agent.yaml`` layout: keys under ``rlpd:``).

        ``section=None`` reads the top level. ``overrides`` replace values from the file.
        Raises ``ValueError`` naming the file for a missing section or bad keys.
        """
        with open(path, 'r', encoding='utf-8') as f:
            data = yaml.safe_load(f) or {}
        if section is not None:
            if section not in data:
                raise ValueError(f'{path}: no "{section}:" section')
            data = data[section] or {}
        data.update(overrides)
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as e:
            raise ValueError(f'{path}: {e}') from e
