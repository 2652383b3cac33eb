"""
Numeric precision of the learner's matrix products: fp32, or bf16 with fp32 master weights.

``precision: bf16`` runs the forward passes of the critic, actor and image-encoder steps under
``torch.autocast(dtype=torch.bfloat16)``: matrix products and convolutions take bf16 inputs
and accumulate in fp32 (oneDNN on a CPU, using AMX tiles or AVX512-BF16 instructions where the
CPU has them; tensor cores on CUDA), while the weights, the optimiser state, the TD targets and
the losses stay fp32 (mixed precision, Micikevicius et al. 2018, arXiv 1710.03740; bf16 needs
no loss scaling: it has fp32's exponent range, Kalamkar et al. 2019, arXiv 1905.12322).

``precision: auto`` resolves to bf16 where the hardware multiplies bf16 natively (a CPU with
``amx_bf16`` or ``avx512_bf16`` in its flags, a CUDA device that supports bf16) and to fp32
elsewhere; :func:`resolve_precision` says which and why.
"""

import contextlib
import functools
import logging
from typing import Tuple

import torch

PRECISIONS = ('auto', 'fp32', 'bf16')
# CPU flags (Linux /proc/cpuinfo) of native bf16 dot products: AMX tiles, AVX512-BF16.
BF16_CPU_FLAGS = ('amx_bf16', 'avx512_bf16')
log = logging.getLogger('serl_agent.agents.precision')


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset:
    """Return the CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open('/proc/cpuinfo', 'r', encoding='utf-8') as f:
            for line in f:
                if line.startswith('flags'):
                    return frozenset(line.split(':', 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_bf16_flags() -> Tuple[str, ...]:
    """Return the native-bf16 flags this CPU has (``BF16_CPU_FLAGS`` in ``cpu_flags()``)."""
    flags = cpu_flags()
    return tuple(f for f in BF16_CPU_FLAGS if f in flags)


def resolve_precision(choice: str, device) -> Tuple[str, str]:
    """
    Resolve a ``precision`` setting for a torch device.

    :param choice: 'auto', 'fp32' or 'bf16'.
    :param device: torch device (or its name) the agent trains on.
    :returns: ``(precision, reason)``: 'fp32' or 'bf16', and a short reason for the log.
    :raises ValueError: an unknown choice, or 'bf16' on a device without bf16 support
        (a CUDA device older than Ampere).
    """
    if choice not in PRECISIONS:
        raise ValueError(f'precision={choice!r}: must be one of {PRECISIONS}')
    device = torch.device(device)
    if device.type == 'cuda':
        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported(
            including_emulation=False)
        if choice == 'bf16' and not native:
            raise ValueError('precision=bf16: this CUDA device does not support bf16')
        why = 'CUDA device with bf16' if native else 'CUDA device without bf16'
    elif device.type == 'cpu':
        flags = cpu_bf16_flags()
        native = bool(flags)
        why = (f'CPU has {", ".join(flags)}' if flags else
               f'CPU has none of {", ".join(BF16_CPU_FLAGS)}')
    else:
        native, why = False, f'{device.type} device'
    if choice == 'auto':
        return ('bf16' if native else 'fp32'), f'auto: {why}'
    return choice, f'set in the config ({why})'


def autocast(precision: str, device: torch.device):
    """
    Context for one forward pass at ``precision``: bf16 autocast, or nothing for fp32.

    Losses and targets computed inside should be cast back with ``.float()``.
    """
    if precision == 'bf16':
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
