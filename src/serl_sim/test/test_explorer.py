"""The workspace explorer: valid actions, the whole box and the cube's surroundings visited."""

import gymnasium as gym
import numpy as np
import pytest
import serl_sim  # noqa: F401  (registers the envs)
from serl_sim.explorer import WorkspaceExplorer
from serl_sim.tasks.pick_cube import PickCubeTask


def test_explorer_covers_the_workspace_and_the_cube_surroundings():
    env = gym.make('PandaPickCube-v0', max_episode_steps=50)
    task = PickCubeTask()
    explorer = WorkspaceExplorer(task.workspace_min, task.workspace_max,
                                 rng=np.random.default_rng(0))
    tcps, near, gripper_cmds = [], 0, set()
    for episode in range(6):
        obs, _ = env.reset(seed=episode)
        explorer.reset()
        for _ in range(50):
            action = explorer(obs)
            assert action.shape == (4,) and action.dtype == np.float32
            assert np.all(np.abs(action) <= 1.0)
            gripper_cmds.add(float(action[3]))
            obs, _, terminated, truncated, _ = env.step(action)
            tcps.append(obs['tcp_pose'][:3])
            near += np.linalg.norm(obs['object_rel'][:2]) < 0.06
            if terminated or truncated:
                break
    tcps = np.array(tcps)
    spread = tcps.max(axis=0) - tcps.min(axis=0)
    assert spread[0] > 0.2 and spread[1] > 0.3 and spread[2] > 0.2, spread
    assert near >= 10, 'the explorer never went near the cube'
    assert gripper_cmds == {-1.0, 1.0}
    env.close()


def test_boundary_waypoints_reach_the_faces_and_corners():
    low, high = np.array([0.2, -0.3, 0.0]), np.array([0.6, 0.3, 0.5])
    obs = {'tcp_pose': np.zeros(7, np.float32)}
    for on_boundary, expect_corners in ((1.0, True), (0.0, False)):
        explorer = WorkspaceExplorer(low, high, rng=np.random.default_rng(0), near_object=0.0,
                                     on_boundary=on_boundary)
        points = []
        for _ in range(400):
            explorer.reset()
            explorer(obs)
            points.append(explorer.waypoint)
        at_bound = np.isclose(points, low) | np.isclose(points, high)
        assert np.all((np.array(points) >= low) & (np.array(points) <= high))
        # each coordinate on a face with probability 1/2; all three: a corner (1/8)
        assert (0.35 < at_bound.mean() < 0.65) == expect_corners, at_bound.mean()
        assert (at_bound.all(axis=1).mean() > 0.07) == expect_corners


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match='workspace box'):
        WorkspaceExplorer([0, 0, 0], [1, 1])
    with pytest.raises(ValueError, match='near_object'):
        WorkspaceExplorer([0, 0, 0], [1, 1, 1], near_object=2.0)
    with pytest.raises(ValueError, match='on_boundary'):
        WorkspaceExplorer([0, 0, 0], [1, 1, 1], on_boundary=-0.1)
    with pytest.raises(ValueError, match='action_scale'):
        WorkspaceExplorer([0, 0, 0], [1, 1, 1], action_scale=0.0)
