"""Bin relocation: regions, directions, release-to-succeed, reset-free episodes, reach."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import serl_sim  # noqa: F401 - registers the envs
from serl_sim.experts import BinRelocationExpert, make_expert
from serl_sim.tasks.bin_relocation import (
    CUBE_HALF, PICKABLE_Y, RAMP_WIDTH, REGION_HALF, START_TCP, TCP_CEILING, TRAY_MAX, TRAY_MIN,
    TRAY_START_MAX, TRAY_START_MIN, TRAY_WALL_HEIGHT)


def _run(env, expert, obs, steps=100):
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            break
    return obs, info


@pytest.mark.parametrize('direction, source', [('forward', 'A'), ('backward', 'B')])
def test_cube_starts_anywhere_inside_the_source_region(direction, source):
    env = gym.make('PandaBinRelocation-v0', direction=direction)
    task = env.unwrapped.task
    starts = []
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        assert task.in_region(env.unwrapped.sim, source) and not info['succeed']
        starts.append(obs['object_pos'][:2])
        offset = obs['object_pos'][:2] - task.region_centre(source)[:2]
        assert np.all(np.abs(offset) <= REGION_HALF - CUBE_HALF)   # the whole cube inside
    assert len({tuple(np.round(s, 4)) for s in starts}) == 6
    env.close()


def test_reset_free_episodes_alternate_directions_and_keep_the_cube_where_it_is():
    env = gym.make('PandaBinRelocation-v0')
    expert = make_expert(env)
    obs, _ = env.reset(seed=0)
    for episode, direction in enumerate(['forward', 'backward', 'forward', 'backward']):
        if episode:
            before = env.unwrapped.task.cube_position(env.unwrapped.sim)
            obs, info = env.reset(options={'direction': direction, 'keep_objects': True})
            np.testing.assert_allclose(obs['object_pos'], before, atol=2e-3)  # not moved
            assert not info['succeed']   # the arm is home, the cube in the source region
        expert.reset()
        obs, info = _run(env, expert, obs)
        assert info['succeed'], f'{direction}: {env.unwrapped.sim.success()[1]}'
    env.close()


def test_success_needs_the_cube_released_at_rest_in_the_target():
    env = gym.make('PandaBinRelocation-v0')
    sim, task = env.unwrapped.sim, env.unwrapped.task
    env.reset(seed=1)
    expert = BinRelocationExpert(env)
    obs = env.unwrapped._observation()
    while expert.phase != 'release':   # carried over B and lowered, still held
        obs, _, terminated, _, info = env.step(expert(obs))
        assert not terminated
    assert task.in_region(sim, 'B') and not info['succeed']   # held: no success yet
    obs, info = _run(env, expert, obs, steps=10)
    assert info['succeed'] and 'inside region B' in sim.success()[1]


def test_out_of_reach_is_told_and_bad_directions_are_named():
    env = gym.make('PandaBinRelocation-v0')
    env.reset(seed=0)
    sim, task = env.unwrapped.sim, env.unwrapped.task
    assert task.object_in_reach(sim)
    sim.data.qpos[task._qpos:task._qpos + 3] = [0.45, 0.1, 0.45]   # lifted high: lands there
    mujoco.mj_forward(sim.model, sim.data)
    assert task.object_in_reach(sim)
    sim.data.qpos[task._qpos:task._qpos + 3] = [0.85, 0.0, CUBE_HALF]   # pushed off the far edge
    mujoco.mj_forward(sim.model, sim.data)
    assert not task.object_in_reach(sim)
    # a step that finds the cube out of reach ends the episode and says so
    _, _, terminated, truncated, info = env.step(np.zeros(4, np.float32))
    assert truncated and not terminated and info['object_in_reach'] is False
    sim.data.qpos[task._qpos:task._qpos + 3] = [0.45, 0.0, -0.2]   # fallen off the table
    mujoco.mj_forward(sim.model, sim.data)
    assert not task.object_in_reach(sim)
    with pytest.raises(ValueError, match='sideways'):
        gym.make('PandaBinRelocation-v0', direction='sideways')
    with pytest.raises(ValueError, match='sideways'):
        env.reset(options={'direction': 'sideways'})
    env.close()


@pytest.mark.parametrize('direction', [(1, 0), (-1, 0), (0, 1), (0, -1)])
def test_the_tray_keeps_a_sliding_cube_where_it_can_be_picked_up(direction):
    """A cube sliding at 1.5 m/s at a wall 2 cm away stops there, or at a side slope's foot."""
    env = gym.make('PandaBinRelocation-v0')
    env.reset(seed=0)
    sim, task = env.unwrapped.sim, env.unwrapped.task
    d = np.array(direction, float)
    # the centre's range: the near and far walls, the side slopes' foot
    lo = np.array(TRAY_MIN) + CUBE_HALF + [0.0, RAMP_WIDTH]
    hi = np.array(TRAY_MAX) - CUBE_HALF - [0.0, RAMP_WIDTH]
    start = np.where(d > 0, hi - 0.02, np.where(d < 0, lo + 0.02, (lo + hi) / 2))
    task.place_cube(sim, *start)
    # on the table it would slide v^2 / (2 mu g) = 11 cm: out of reach (REACH_MIN/MAX)
    sim.data.qvel[task._dof:task._dof + 2] = 1.5 * d
    for _ in range(1000):   # 2 s of physics (2 ms steps)
        mujoco.mj_step(sim.model, sim.data)
    cube = task.cube_position(sim)
    assert np.all(cube[:2] >= lo - 0.005) and np.all(cube[:2] <= hi + 0.005), cube
    assert task.object_in_reach(sim), cube
    env.close()


@pytest.mark.parametrize('direction, target', [('forward', 'B'), ('backward', 'A')])
def test_tray_starts_lie_anywhere_pickable_outside_the_target(direction, target):
    env = gym.make('PandaBinRelocation-v0', direction=direction, start_area='tray')
    sim, task = env.unwrapped.sim, env.unwrapped.task
    starts = []
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        assert not task.in_region(sim, target) and not info['succeed']
        assert task.object_in_reach(sim)
        starts.append(obs['object_pos'][:2])
    starts = np.array(starts)
    assert np.all(starts >= TRAY_START_MIN) and np.all(starts <= TRAY_START_MAX)
    # spread over the tray, beyond the source region (12 cm square)
    assert np.ptp(starts[:, 0]) > 0.15 and np.ptp(starts[:, 1]) > 0.3
    obs, _ = env.reset(seed=0, options={'start_area': 'source'})
    assert task.in_region(sim, 'A' if target == 'B' else 'B')
    with pytest.raises(ValueError, match='middle'):
        env.reset(options={'start_area': 'middle'})
    env.close()


def test_a_cube_resting_close_to_a_side_wall_is_out_of_reach_unless_lifted():
    """Vertical walls: the scripted expert picked a cube up at |y| = 0.23 m, not at 0.24 m."""
    env = gym.make('PandaBinRelocation-v0')
    env.reset(seed=0)
    sim, task = env.unwrapped.sim, env.unwrapped.task
    assert 0.23 < PICKABLE_Y < 0.24
    for y, in_reach in ((0.23, True), (0.24, False), (-0.23, True), (-0.24, False)):
        task.place_cube(sim, 0.45, y)
        mujoco.mj_forward(sim.model, sim.data)
        assert task.object_in_reach(sim) == in_reach, y
    sim.data.qpos[task._qpos + 2] = 0.04   # held 2 cm above the table there: not yet lost
    mujoco.mj_forward(sim.model, sim.data)
    assert task.object_in_reach(sim)
    env.close()


def test_the_tcp_stays_over_the_tray_and_below_its_rim():
    """Actions toward every side and up stop the TCP inside the tray, below the walls' top."""
    env = gym.make('PandaBinRelocation-v0')
    env.reset(seed=0)
    sim = env.unwrapped.sim
    np.testing.assert_allclose(sim.tcp_position(), START_TCP, atol=3e-3)   # settled
    for action in ([1, 0, 1, 1], [-1, 0, 1, 1], [0, 1, 1, 1], [0, -1, 1, 1]):
        for _ in range(40):
            env.step(np.array(action, np.float32))
        tcp = sim.tcp_position()
        assert np.all(tcp[:2] > np.array(TRAY_MIN)) and np.all(tcp[:2] < np.array(TRAY_MAX)), tcp
        assert tcp[2] < TCP_CEILING + 0.005, tcp
    env.close()


@pytest.mark.parametrize('direction', [(1, 0), (-1, 0), (0, 1), (0, -1)])
def test_a_held_cube_flung_at_a_wall_stays_in_the_tray(direction):
    """Carried at full speed up and toward a wall and let go there: it lands inside the tray."""
    env = gym.make('PandaBinRelocation-v0')
    obs, _ = env.reset(seed=2)
    sim, task = env.unwrapped.sim, env.unwrapped.task
    expert = BinRelocationExpert(env)
    while expert.phase != 'carry':   # picked up
        obs, *_ = env.step(expert(obs))
    rush = np.array([*direction, 1.0, -1.0], np.float32)
    for _ in range(15):   # at the wall, pressing up
        env.step(rush)
        assert task.cube_position(sim)[2] - CUBE_HALF < TRAY_WALL_HEIGHT - 0.015   # 1.5 cm under
    assert np.linalg.norm(task.cube_position(sim) - sim.tcp_position()) < 0.03   # still held
    rush[3] = 1.0   # let go while still rushing
    for _ in range(15):
        env.step(rush)
    cube = task.cube_position(sim)
    assert task.object_in_reach(sim), cube
    assert np.all(cube[:2] > np.array(TRAY_MIN)) and np.all(cube[:2] < np.array(TRAY_MAX)), cube
    env.close()


def test_expert_without_a_simulator_needs_a_direction_and_works_from_observations():
    env = gym.make('PandaBinRelocation-v0', direction='backward')
    with pytest.raises(ValueError, match='direction'):
        BinRelocationExpert()
    expert = make_expert(env, task='bin_relocation_backward')
    assert expert.env is None and expert.direction == 'backward'
    obs, _ = env.reset(seed=4)
    _, info = _run(env, expert, obs)
    assert info['succeed'], env.unwrapped.sim.success()[1]
