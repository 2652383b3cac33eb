"""
The sim node with bin relocation: direction by the reset service, start area, reach.

A module of its own: the sim node of test_sim_node.py (a module fixture) would answer the same
services while alive.
"""

import mujoco
import pytest
import rclpy
from rclpy.parameter import Parameter
from serl_msgs.srv import GetSuccess, ResetEpisode
from serl_sim.sim_node import SimNode
from sim_fixtures import running_sim
from test_sim_node import Probe


def test_bin_relocation_direction_is_set_by_the_reset_service():
    with running_sim(Probe, [Parameter('task', value='PandaBinRelocation-v0'),
                             Parameter('camera_rate', value=2.0)]) as (sim, probe):
        task = sim.sim.task
        response = probe.call(probe.reset, ResetEpisode.Request(seed=1, direction='backward'))
        assert response.success and 'backward' in response.message
        assert task.direction == 'backward' and task.in_region(sim.sim, 'B')
        refused = probe.call(probe.reset, ResetEpisode.Request(seed=1, direction='sideways'))
        assert not refused.success and 'sideways' in refused.message
        assert task.direction == 'backward'   # unchanged by the refused request
        status = probe.call(probe.get_success, GetSuccess.Request())
        assert status.object_in_reach and not status.success and 'backward' in status.message
        with sim._lock:   # the cube pushed off the table's far edge
            sim.sim.data.qpos[task._qpos:task._qpos + 3] = [0.85, 0.0, 0.02]
            mujoco.mj_forward(sim.sim.model, sim.sim.data)
        assert not probe.call(probe.get_success, GetSuccess.Request()).object_in_reach


def test_start_area_parameter_starts_the_cube_anywhere_pickable_and_bad_values_are_named():
    with running_sim(Probe, [Parameter('task', value='PandaBinRelocation-v0'),
                             Parameter('start_area', value='tray'),
                             Parameter('camera_rate', value=0.0)]) as (sim, probe):
        task = sim.sim.task
        outside_a = 0
        for seed in range(8):
            response = probe.call(probe.reset, ResetEpisode.Request(seed=seed,
                                                                    direction='forward'))
            assert response.success
            assert task.object_in_reach(sim.sim) and not task.in_region(sim.sim, 'B')
            outside_a += not task.in_region(sim.sim, 'A')
        assert outside_a >= 4   # A covers < 20 % of the pickable tray
    for value, task, match in (('middle', 'PandaBinRelocation-v0', 'middle'),
                               ('tray', 'PandaPickCube-v0', 'no start areas')):
        rclpy.init(context=(context := rclpy.Context()))
        try:
            with pytest.raises(ValueError, match=f'parameter start_area: .*{match}'):
                SimNode(context=context, parameter_overrides=[
                    Parameter('task', value=task), Parameter('start_area', value=value)])
        finally:
            rclpy.try_shutdown(context=context)
