"""
Replay buffer: preallocated ring buffer of transitions, sampled on the torch side.

Used for both RLPD buffers (Ball et al. 2023, Alg. 1): the online buffer R (filled by the
actor) and the demo buffer D (filled from demo bags, see ``serl_agent.data.bag_io``).
"""

from typing import Dict, Optional, Union

import gymnasium as gym
import numpy as np
from serl_agent.networks import observation_spec
import torch

Batch = Dict[str, Union[torch.Tensor, Dict[str, torch.Tensor]]]
STATE_VERSION = 2


def to_device_batch(batch: Batch, device: torch.device) -> Batch:
    """Return ``batch`` (tensors or dicts of tensors) with every tensor on ``device``."""
    return {k: ({j: t.to(device) for j, t in v.items()} if isinstance(v, dict) else v.to(device))
            for k, v in batch.items()}


class ReplayBuffer:
    """
    Fixed-capacity ring buffer of (s, a, r, s', terminated, truncated).

    Storage is allocated once, as torch tensors on ``device``: state arrays float32, images
    uint8 (HxWxC, as the space gives them), actions float32 (capacity, A), rewards, terminated
    and truncated float32 (capacity,). When full, the oldest transition is overwritten.

    ``observation_space``: ``Box`` or ``Dict`` of ``Box`` (see ``networks.observation_spec``).
    ``action_space``: ``Box``; actions are stored as given (the agent's normalised [-1, 1]).

    Memory: 2 x capacity x (obs bytes) + capacity x (4 A + 12) bytes; e.g. two 128x128x3
    images need about 196 kB per transition (so 100k transitions ~ 20 GB): size vision buffers
    to the machine.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.spaces.Box,
                 capacity: int, device: Union[str, torch.device] = 'cpu'):
        if int(capacity) < 1:
            raise ValueError(f'capacity must be >= 1, got {capacity}')
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(f'action_space must be a 1-D Box, got {action_space!r}')
        self.observation_space = observation_space
        self.action_space = action_space
        self.spec = observation_spec(observation_space)
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self.action_dim = int(action_space.shape[0])
        self._obs = self._alloc_obs()
        self._next_obs = self._alloc_obs()
        n, dev = self.capacity, self.device
        self._actions = torch.zeros(n, self.action_dim, dtype=torch.float32, device=dev)
        self._rewards = torch.zeros(n, dtype=torch.float32, device=dev)
        self._terminated = torch.zeros(n, dtype=torch.float32, device=dev)
        self._truncated = torch.zeros(n, dtype=torch.float32, device=dev)
        self._size = 0
        self._next = 0
        self.total_inserted = 0

    # ---------------------------------------------------------------- storage layout
    def _fields(self):
        """(key, shape, dtype) of each observation array; key None for a Box observation."""
        if self.spec['type'] == 'box':
            return [(None, tuple(self.spec['shape']), torch.float32)]
        return ([(k, tuple(s), torch.float32) for k, s in self.spec['state'].items()]
                + [(k, tuple(s), torch.uint8) for k, s in self.spec['images'].items()])

    def _alloc_obs(self):
        arrays = {k: torch.zeros((self.capacity, *s), dtype=d, device=self.device)
                  for k, s, d in self._fields()}
        return arrays[None] if self.spec['type'] == 'box' else arrays

    def _write_obs(self, store, index: int, obs, name: str):
        if self.spec['type'] == 'box':
            store[index] = self._check(obs, tuple(self.spec['shape']), torch.float32, name)
            return
        if not isinstance(obs, dict):
            raise ValueError(f'{name}: expected a dict observation, got {type(obs).__name__}')
        for key, shape, dtype in self._fields():
            if key not in obs:
                raise ValueError(f'{name} is missing key {key!r} (has {sorted(obs)})')
            store[key][index] = self._check(obs[key], shape, dtype, f'{name}[{key!r}]')

    def _check(self, x, shape, dtype, name):
        t = torch.as_tensor(np.asarray(x))
        if tuple(t.shape) != shape:
            raise ValueError(f'{name} has shape {tuple(t.shape)}, expected {shape}')
        if dtype == torch.float32:
            t = t.to(torch.float32)
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f'{name} contains NaN or inf')
        elif t.dtype != torch.uint8:
            raise ValueError(f'{name} must be uint8 (image), got {t.dtype}')
        return t

    # ---------------------------------------------------------------- public API
    def __len__(self) -> int:
        """Return the number of stored transitions (<= capacity)."""
        return self._size

    def insert(self, obs, action, reward: float, next_obs, terminated: bool,
               truncated: bool) -> None:
        """
        Store one transition (numpy or array-like inputs, one observation each).

        ``terminated``: the MDP ended (no bootstrap); ``truncated``: cut by a time limit or an
        intervention (the target bootstraps through it). Raises ``ValueError`` naming the field
        on a wrong shape, a non-uint8 image, a NaN/inf value, or an action outside [-1, 1]
        (beyond 1e-6); nothing is written then.
        """
        a = self._check(action, (self.action_dim,), torch.float32, 'action')
        if bool((a.abs() > 1.0 + 1e-6).any()):
            raise ValueError(f'action {a.tolist()} is outside [-1, 1] (store normalised actions)')
        r = float(reward)
        if not np.isfinite(r):
            raise ValueError(f'reward is {r}')
        # Validate both observations before writing anything.
        i = self._next
        staged_obs = self._alloc_one()
        self._write_obs(staged_obs, 0, obs, 'obs')
        staged_next = self._alloc_one()
        self._write_obs(staged_next, 0, next_obs, 'next_obs')
        self._copy_obs(self._obs, i, staged_obs)
        self._copy_obs(self._next_obs, i, staged_next)
        self._actions[i] = a
        self._rewards[i] = r
        self._terminated[i] = float(bool(terminated))
        self._truncated[i] = float(bool(truncated))
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        self.total_inserted += 1

    def _alloc_one(self):
        arrays = {k: torch.zeros((1, *s), dtype=d) for k, s, d in self._fields()}
        return arrays[None] if self.spec['type'] == 'box' else arrays

    def _copy_obs(self, store, index, staged):
        if self.spec['type'] == 'box':
            store[index] = staged[0]
        else:
            for k in store:
                store[k][index] = staged[k][0]

    def extend(self, other: 'ReplayBuffer') -> None:
        """
        Append every transition of ``other``, oldest first.

        Our oldest are overwritten when the capacity is reached; of more than ``capacity``
        transitions, the newest are kept.

        Raises ``ValueError`` when ``other`` holds another observation layout or action size.
        """
        if other.spec != self.spec or other.action_dim != self.action_dim:
            raise ValueError(f'cannot extend a buffer of observations {self.spec} and '
                             f'{self.action_dim}-D actions with one of {other.spec} and '
                             f'{other.action_dim}-D actions')
        n = len(other)
        if n == 0:
            return
        oldest = other._next if other._size == other.capacity else 0
        src = (oldest + torch.arange(n, device=other.device)) % other.capacity
        src = src[-self.capacity:]
        n = int(src.shape[0])
        batch = to_device_batch(other.gather(src), self.device)
        dst = (self._next + torch.arange(n, device=self.device)) % self.capacity

        def put(store, rows):
            if isinstance(store, dict):
                for k, v in store.items():
                    v.index_copy_(0, dst, rows[k])
            else:
                store.index_copy_(0, dst, rows)

        put(self._obs, batch['observations'])
        put(self._next_obs, batch['next_observations'])
        for key, store in (('actions', self._actions), ('rewards', self._rewards),
                           ('terminated', self._terminated), ('truncated', self._truncated)):
            put(store, batch[key])
        self._next = (self._next + n) % self.capacity
        self._size = min(self._size + n, self.capacity)
        self.total_inserted += n

    @classmethod
    def concatenate(cls, buffers) -> 'ReplayBuffer':
        """
        One new buffer holding every transition of ``buffers`` in order, exactly full.

        Spaces and device are the first buffer's. Raises ``ValueError`` for an empty list or
        buffers of different layouts.
        """
        buffers = list(buffers)
        if not buffers:
            raise ValueError('no buffers to concatenate')
        first = buffers[0]
        out = cls(first.observation_space, first.action_space,
                  max(1, sum(len(b) for b in buffers)), device=first.device)
        for b in buffers:
            out.extend(b)
        return out

    def sample(self, batch_size: int, generator: Optional[torch.Generator] = None,
               out: Optional[Batch] = None) -> Batch:
        """
        Uniformly sample ``batch_size`` transitions (with replacement) as torch tensors.

        Returns a dict: ``observations`` and ``next_observations`` (tensor (B, ...) or dict of
        tensors), ``actions`` (B, A), ``rewards``, ``terminated``, ``truncated`` (B,), all on
        ``device``. ``generator`` must live on ``device``. ``out``: a batch of this layout
        (``empty_batch``, or a ``batch_slice`` of one) to write into instead of new tensors.
        Raises ``ValueError`` when empty.
        """
        if self._size == 0:
            raise ValueError('cannot sample from an empty replay buffer')
        idx = torch.randint(0, self._size, (int(batch_size),), device=self.device,
                            generator=generator)
        return self.gather(idx, out)

    def gather(self, idx: torch.Tensor, out: Optional[Batch] = None) -> Batch:
        """
        Return the transitions at storage indices ``idx`` (long tensor on ``device``).

        With ``out`` (a batch of len(idx) of this layout), they are written into it (returned).
        """
        out = out if out is not None else self.empty_batch(int(idx.shape[0]))

        def take(store, dst):
            if isinstance(store, dict):
                for k, v in store.items():
                    torch.index_select(v, 0, idx, out=dst[k])
            else:
                torch.index_select(store, 0, idx, out=dst)

        take(self._obs, out['observations'])
        take(self._next_obs, out['next_observations'])
        for key, store in (('actions', self._actions), ('rewards', self._rewards),
                           ('terminated', self._terminated), ('truncated', self._truncated)):
            torch.index_select(store, 0, idx, out=out[key])
        return out

    def empty_batch(self, batch_size: int) -> Batch:
        """Uninitialised batch of ``batch_size`` transitions, laid out as ``sample`` returns."""
        def alloc(store):
            if isinstance(store, dict):
                return {k: v.new_empty((batch_size, *v.shape[1:])) for k, v in store.items()}
            return store.new_empty((batch_size, *store.shape[1:]))

        return {'observations': alloc(self._obs), 'next_observations': alloc(self._next_obs),
                'actions': alloc(self._actions), 'rewards': alloc(self._rewards),
                'terminated': alloc(self._terminated), 'truncated': alloc(self._truncated)}

    @staticmethod
    def batch_slice(batch: Batch, start: int, stop: int) -> Batch:
        """Return views of rows [start, stop) of every tensor of ``batch`` (writes go into it)."""
        return {k: ({j: t[start:stop] for j, t in v.items()} if isinstance(v, dict)
                    else v[start:stop]) for k, v in batch.items()}

    def state_dict(self) -> dict:
        """
        Return the stored transitions and counters (CPU tensors and ints), for checkpoints.

        A full buffer is returned as its storage in ring order with ``next`` (the slot written
        next, i.e. the oldest), without a copy on CPU; a partly filled one as copies of its
        filled part (``next`` = size). ``load_state_dict`` restores either.
        """
        full = self._size == self.capacity

        def take(t):
            return t.cpu() if full else t[:self._size].clone().cpu()

        def take_obs(store):
            if isinstance(store, dict):
                return {k: take(v) for k, v in store.items()}
            return take(store)

        return {'version': STATE_VERSION, 'spec': self.spec, 'capacity': self.capacity,
                'action_dim': self.action_dim, 'total_inserted': self.total_inserted,
                'next': self._next if full else self._size,
                'observations': take_obs(self._obs),
                'next_observations': take_obs(self._next_obs),
                'actions': take(self._actions), 'rewards': take(self._rewards),
                'terminated': take(self._terminated), 'truncated': take(self._truncated)}

    def load_state_dict(self, state: dict) -> None:
        """
        Restore from ``state_dict()``; a larger saved buffer keeps its newest transitions.

        Raises ``ValueError`` when the observation layout or action size differ.
        """
        if state.get('version') != STATE_VERSION:
            raise ValueError(f'replay buffer state version {state.get("version")!r}, '
                             f'expected {STATE_VERSION}')
        if state['spec'] != self.spec or state['action_dim'] != self.action_dim:
            raise ValueError(f'replay buffer state has observation spec {state["spec"]} and '
                             f'action_dim {state["action_dim"]}, this buffer {self.spec} and '
                             f'{self.action_dim}')
        n = int(state['actions'].shape[0])
        keep = min(n, self.capacity)
        # Saved slot order: oldest at index ``next`` (ring), wrapping around; keep the newest.
        oldest = int(state.get('next', n)) % n if n else 0
        order = (torch.arange(n - keep, n) + oldest) % max(n, 1)

        def put(store, saved):
            if isinstance(store, dict):
                for k in store:
                    store[k][:keep] = saved[k][order].to(self.device)
            else:
                store[:keep] = saved[order].to(self.device)

        put(self._obs, state['observations'])
        put(self._next_obs, state['next_observations'])
        put(self._actions, state['actions'])
        put(self._rewards, state['rewards'])
        put(self._terminated, state['terminated'])
        put(self._truncated, state['truncated'])
        self._size = keep
        self._next = keep % self.capacity
        self.total_inserted = int(state['total_inserted'])
