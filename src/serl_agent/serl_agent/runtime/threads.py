"""CPU thread setup: one torch intra-op thread per physical core available to this process."""

import glob
import os
from typing import Optional

import torch


def physical_cores() -> int:
    """
    Count the physical cores among the CPUs this process may run on (>= 1).

    Reads the Linux topology (``/sys/devices/system/cpu/cpu*/topology/core_cpus_list``, or
    ``thread_siblings_list`` on older kernels) so that SMT siblings count once; falls back to
    the affinity CPU count elsewhere.
    """
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in allowed:
        base = f'/sys/devices/system/cpu/cpu{cpu}/topology/'
        for name in ('core_cpus_list', 'thread_siblings_list'):
            path = base + name
            if os.path.exists(path):
                with open(path, 'r', encoding='ascii') as f:
                    cores.add(f.read().strip())
                break
        else:
            cores.add(str(cpu))
    if not glob.glob('/sys/devices/system/cpu/cpu*/topology'):
        return max(1, len(allowed))
    return max(1, len(cores))


def set_torch_threads(num_threads: Optional[int] = None) -> int:
    """
    Set torch's intra-op threads to ``num_threads`` (default: ``physical_cores()``).

    Returns the number set. Raises ``ValueError`` for a count < 1.
    """
    n = physical_cores() if num_threads is None else int(num_threads)
    if n < 1:
        raise ValueError(f'num_threads must be >= 1, got {num_threads}')
    torch.set_num_threads(n)
    return n
