"""Pure logic of the sim node: effort command policy and real-time pacing."""

import numpy as np
import pytest

from serl_sim.effort_guard import EffortGuard
from serl_sim.pacing import Pacer

LIMITS = [87.0] * 4 + [12.0] * 3


def test_valid_command_is_held_for_one_period_then_zero():
    guard = EffortGuard(LIMITS, hold=0.002)
    assert guard.submit([1.0] * 7, now=1.0) is None
    np.testing.assert_array_equal(guard.torque(1.001), [1.0] * 7)
    np.testing.assert_array_equal(guard.torque(1.002), [1.0] * 7)
    np.testing.assert_array_equal(guard.torque(1.0021), np.zeros(7))
    assert guard.expired == 1 and not guard.active
    np.testing.assert_array_equal(guard.torque(1.003), np.zeros(7))
    assert guard.expired == 1


@pytest.mark.parametrize('values, reason', [
    ([float('nan')] + [0.0] * 6, 'NaN or inf'),
    ([0.0] * 6 + [float('-inf')], 'NaN or inf'),
    ([0.0] * 6, 'has 6 values, expected 7'),
    ([0.0] * 9, 'has 9 values, expected 7'),
])
def test_bad_commands_are_rejected_and_the_last_valid_one_is_kept(values, reason):
    guard = EffortGuard(LIMITS, hold=0.01)
    guard.submit([2.0] * 7, now=0.0)
    assert reason in guard.submit(values, now=0.001)
    assert guard.rejected == 1
    np.testing.assert_array_equal(guard.torque(0.005), [2.0] * 7)


def test_out_of_range_commands_are_clipped_and_counted():
    guard = EffortGuard(LIMITS, hold=0.01)
    assert guard.submit([100.0, -100.0, 0, 0, 20.0, -20.0, 5.0], now=0.0) is None
    np.testing.assert_array_equal(guard.torque(0.0), [87, -87, 0, 0, 12, -12, 5])
    assert guard.clipped == 1 and guard.rejected == 0


def test_clear_drops_the_command_and_bad_construction_raises():
    guard = EffortGuard(LIMITS, hold=0.01)
    guard.submit([1.0] * 7, now=0.0)
    guard.clear()
    np.testing.assert_array_equal(guard.torque(0.0), np.zeros(7))
    with pytest.raises(ValueError, match='hold'):
        EffortGuard(LIMITS, hold=0.0)
    with pytest.raises(ValueError, match='limits'):
        EffortGuard([1.0, -1.0], hold=0.01)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_pacer_follows_the_wall_clock_at_the_real_time_factor():
    clock = FakeClock()
    pacer = Pacer(0.002, real_time_factor=2.0, clock=clock)
    assert pacer.due() == 0
    clock.now = 0.01  # 0.02 s of sim time at factor 2
    assert pacer.due() == 10
    pacer.done(10)
    assert pacer.due() == 0
    assert pacer.sleep_time() == pytest.approx(0.001)


def test_pacer_drops_the_deficit_when_the_machine_cannot_keep_up():
    clock = FakeClock()
    pacer = Pacer(0.001, real_time_factor=1.0, max_catch_up=50, clock=clock)
    clock.now = 1.0
    assert pacer.due() == 50
    assert pacer.dropped_steps == 950
    pacer.done(50)
    assert pacer.due() == 0
    with pytest.raises(ValueError, match='real_time_factor'):
        Pacer(0.001, real_time_factor=0.0)
