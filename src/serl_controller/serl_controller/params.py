"""
Parameters of the Cartesian impedance controller, with SERL's defaults and their validation.

Defaults follow SERL (Luo et al., arXiv 2401.16013, and its `serl_franka_controllers`): stiffness
2000 N/m and 150 N m/rad, damping 89 N s/m and 7 N m s/rad, nullspace stiffness 0.2, error clip
1 cm / 0.05 rad per axis and sign, torque rate 1 N m per 1 ms, first-order filter 0.005 per 1 ms
on the target and the gains. `PRECISION_GAINS` is the stiffer set used while resetting the arm.
"""

from dataclasses import asdict, dataclass, fields, replace
import math
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

#: FR3 joint torque limits, N m (Franka FR3 datasheet, "Robot and interface specifications").
FR3_TORQUE_LIMITS = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)

#: Fields that a named gain set (`compliance`, `precision`) may override.
GAIN_FIELDS = (
    'translational_stiffness', 'translational_damping', 'rotational_stiffness',
    'rotational_damping', 'nullspace_stiffness', 'translational_ki', 'rotational_ki',
    'translational_clip_neg', 'translational_clip_pos', 'rotational_clip_neg',
    'rotational_clip_pos',
)

Vec3 = Tuple[float, float, float]


@dataclass(frozen=True)
class ImpedanceParams:
    """
    Gains, limits and safety box of `CartesianImpedanceController` (SI units, base frame).

    Attributes
    ----------
        translational_stiffness: K_t, N/m (same on x, y, z).
        translational_damping: D_t, N s/m.
        rotational_stiffness: K_r, N m/rad.
        rotational_damping: D_r, N m s/rad.
        nullspace_stiffness: k_ns, N m/rad, pulling the joints to `nullspace_target`; nullspace
            damping is 2 sqrt(k_ns).
        nullspace_target: (7,) rad, or None for the joint positions at activation.
        translational_ki: integral gain, N/(m s) (0 disables).
        rotational_ki: integral gain, N m/(rad s).
        translational_integral_limit: clamp of the integrated clipped error per axis, m s.
        rotational_integral_limit: clamp of the integrated rotational error per axis, rad s.
        translational_clip_neg / translational_clip_pos: (3,) m, the position error
            x - x_d is clipped per axis to [-clip_neg, +clip_pos] (SERL's reference limiting).
        rotational_clip_neg / rotational_clip_pos: (3,) rad, same for the rotation vector error.
        torque_rate_limit: largest change of a joint torque, N m/s (1000 = 1 N m per 1 ms).
        joint_torque_limits: (7,) N m, commanded torques saturate at +-limit.
        filter_coefficient: first-order low-pass factor per 1 ms applied to the target pose,
            the gains and the nullspace target (x <- x + c (x_target - x)); 1 disables it.
        workspace_min / workspace_max: (3,) m, corners of the safety box the equilibrium
            position is clipped into (base frame `fr3_link0`).
        pseudo_inverse_damping: lambda of the damped pseudo-inverse of J^T used by the
            nullspace projector (J J^T + lambda^2 I)^-1 J.

    """

    translational_stiffness: float = 2000.0
    translational_damping: float = 89.0
    rotational_stiffness: float = 150.0
    rotational_damping: float = 7.0
    nullspace_stiffness: float = 0.2
    nullspace_target: Optional[Tuple[float, ...]] = None
    translational_ki: float = 0.0
    rotational_ki: float = 0.0
    translational_integral_limit: float = 0.1
    rotational_integral_limit: float = 0.3
    translational_clip_neg: Vec3 = (0.01, 0.01, 0.01)
    translational_clip_pos: Vec3 = (0.01, 0.01, 0.01)
    rotational_clip_neg: Vec3 = (0.05, 0.05, 0.05)
    rotational_clip_pos: Vec3 = (0.05, 0.05, 0.05)
    torque_rate_limit: float = 1000.0
    joint_torque_limits: Tuple[float, ...] = FR3_TORQUE_LIMITS
    filter_coefficient: float = 0.005
    workspace_min: Vec3 = (0.2, -0.5, 0.0)
    workspace_max: Vec3 = (0.8, 0.5, 0.8)
    pseudo_inverse_damping: float = 0.2

    def validate(self) -> 'ImpedanceParams':
        """
        Check every field; return `self` so that calls can be chained.

        Raises
        ------
            ValueError: naming the first bad field: not finite, negative, wrong length, a
                filter coefficient outside (0, 1], a zero torque-rate or torque limit, or a
                workspace box with min > max.

        """
        vector_lengths = {
            'translational_clip_neg': 3, 'translational_clip_pos': 3,
            'rotational_clip_neg': 3, 'rotational_clip_pos': 3,
            'joint_torque_limits': 7, 'workspace_min': 3, 'workspace_max': 3,
            'nullspace_target': 7,
        }
        may_be_negative = {'workspace_min', 'workspace_max', 'nullspace_target'}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name == 'nullspace_target':
                continue
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f'{f.name} must be numeric, got {value!r}') from None
            expected = vector_lengths.get(f.name)
            if expected is None and arr.shape != ():
                raise ValueError(f'{f.name} must be a scalar, got {value!r}')
            if expected is not None and arr.shape != (expected,):
                raise ValueError(f'{f.name} must have {expected} entries, got {value!r}')
            if not np.all(np.isfinite(arr)):
                raise ValueError(f'{f.name} must be finite, got {value!r}')
            if f.name not in may_be_negative and np.any(arr < 0.0):
                raise ValueError(f'{f.name} must be >= 0, got {value!r}')
        if not 0.0 < self.filter_coefficient <= 1.0:
            raise ValueError(
                f'filter_coefficient must be in (0, 1], got {self.filter_coefficient}')
        if self.torque_rate_limit <= 0.0:
            raise ValueError('torque_rate_limit must be > 0')
        if np.any(np.asarray(self.joint_torque_limits) <= 0.0):
            raise ValueError(f'joint_torque_limits must be > 0, got {self.joint_torque_limits}')
        low, high = np.asarray(self.workspace_min), np.asarray(self.workspace_max)
        if np.any(low > high):
            raise ValueError(f'workspace box is not well-formed: workspace_min '
                             f'{self.workspace_min} exceeds workspace_max {self.workspace_max}')
        return self

    def with_gains(self, gains: Mapping[str, Any]) -> 'ImpedanceParams':
        """
        Return a validated copy with the fields of a named gain set replaced.

        Raises
        ------
            ValueError: for a key that is not in `GAIN_FIELDS` or an invalid value.

        """
        unknown = sorted(set(gains) - set(GAIN_FIELDS))
        if unknown:
            raise ValueError(f'unknown gain field(s) {unknown}; allowed: {list(GAIN_FIELDS)}')
        return replace(self, **{k: _as_field_value(v) for k, v in gains.items()}).validate()

    def to_dict(self) -> Dict[str, Any]:
        """Return the parameters as a plain dict (tuples for vectors, None kept)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> 'ImpedanceParams':
        """Build validated parameters from a mapping (unknown keys raise `ValueError`)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f'unknown controller parameter(s) {unknown}')
        return cls(**{k: _as_field_value(v) for k, v in values.items()}).validate()


def _as_field_value(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(float(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


#: SERL's episode set: compliant, 1 cm / 0.05 rad error clip (the `ImpedanceParams` defaults).
COMPLIANCE_GAINS: Dict[str, Any] = {
    name: getattr(ImpedanceParams(), name) for name in GAIN_FIELDS
}

#: Stiffer set for resets: reaches the reset pose accurately; larger clip so it moves briskly.
PRECISION_GAINS: Dict[str, Any] = {
    'translational_stiffness': 3000.0,
    'translational_damping': 2.0 * math.sqrt(3000.0),
    'rotational_stiffness': 300.0,
    'rotational_damping': 9.0,
    'nullspace_stiffness': 0.2,
    'translational_ki': 0.0,
    'rotational_ki': 0.0,
    'translational_clip_neg': (0.03, 0.03, 0.03),
    'translational_clip_pos': (0.03, 0.03, 0.03),
    'rotational_clip_neg': (0.1, 0.1, 0.1),
    'rotational_clip_pos': (0.1, 0.1, 0.1),
}

#: Fields that are not part of a gain set (limits, filter, box, projector damping).
BASE_FIELDS = tuple(f.name for f in fields(ImpedanceParams) if f.name not in GAIN_FIELDS)

#: The gain sets named in config/controller.yaml and their defaults.
DEFAULT_GAIN_SETS: Dict[str, Dict[str, Any]] = {
    'compliance': COMPLIANCE_GAINS,
    'precision': PRECISION_GAINS,
}


def params_from_flat(values: Mapping[str, Any], gain_set: str,
                     gain_set_names=tuple(DEFAULT_GAIN_SETS)) -> ImpedanceParams:
    """
    Build validated parameters from flat ROS-style names, applying one named gain set.

    Parameters
    ----------
    values : mapping
        `<base field>` and `<gain set>.<gain field>` keys (as ROS 2 flattens nested YAML).
        An empty `nullspace_target` list means None (the joint positions at activation).
    gain_set : str
        The gain set to apply (e.g. `compliance`).
    gain_set_names : sequence of str
        All gain set names; every one of them is validated, so a bad inactive set is caught
        before it is switched to.

    Returns
    -------
    ImpedanceParams
        Base fields plus the gains of `gain_set`.

    Raises
    ------
    ValueError
        Naming the unknown gain set, or the set and field with a bad value.

    """
    if gain_set not in gain_set_names:
        raise ValueError(f'active_gain_set {gain_set!r} is not one of {list(gain_set_names)}')
    base = {k: values[k] for k in BASE_FIELDS if k in values}
    if base.get('nullspace_target') is not None and len(base['nullspace_target']) == 0:
        base['nullspace_target'] = None
    base_params = ImpedanceParams.from_dict(base)
    result = None
    for name in gain_set_names:
        gains = {f: values[f'{name}.{f}'] for f in GAIN_FIELDS if f'{name}.{f}' in values}
        try:
            params = base_params.with_gains(gains)
        except ValueError as error:
            raise ValueError(f'gain set {name!r}: {error}') from None
        if name == gain_set:
            result = params
    return result
