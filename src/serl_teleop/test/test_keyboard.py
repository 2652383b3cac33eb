"""Keyboard core: terminal bytes -> keys, held-key timing, buttons, speed, operator frame."""

import math

import numpy as np
import pytest
from serl_teleop.keyboard import (BACKSPACE, decode_keys, ENTER, ESCAPE, KeyboardSettings,
                                  KeyboardTeleop, SPACE)


def test_decode_plain_keys_enter_backspace_space():
    keys = decode_keys(b'wW\r\n\x7f\x08 ')
    assert keys == ['w', 'w', ENTER, ENTER, BACKSPACE, BACKSPACE, SPACE]


def test_arrow_and_function_keys_are_not_escape():
    # up arrow (CSI A), F5 (CSI 15~), SS3 F1 (ESC O P), then a lone Esc
    assert decode_keys(b'\x1b[A' + b'\x1b[15~' + b'\x1bOP' + b'w\x1b') == ['w', ESCAPE]


def test_single_press_moves_for_hold_first_then_stops():
    kb = KeyboardTeleop(KeyboardSettings(linear_speed=0.1, hold_first=0.5, hold_repeat=0.15))
    kb.press('w', 10.0)
    np.testing.assert_allclose(kb.velocity(10.0), (0.1, 0, 0))
    np.testing.assert_allclose(kb.velocity(10.49), (0.1, 0, 0))
    np.testing.assert_allclose(kb.velocity(10.51), (0, 0, 0))


def test_autorepeat_keeps_moving_and_release_stops_within_hold_repeat():
    kb = KeyboardTeleop(KeyboardSettings(hold_first=0.5, hold_repeat=0.15))
    kb.press('r', 0.0)
    t = 0.5  # autorepeat starts after its delay, then every 40 ms
    while t < 2.0:
        kb.press('r', t)
        assert kb.velocity(t + 0.039)[2] > 0
        t += 0.04
    last = t - 0.04
    assert kb.velocity(last + 0.14)[2] > 0
    assert kb.velocity(last + 0.16)[2] == 0.0  # released: stops 0.15 s after the last repeat


def test_opposite_key_takes_over_and_axes_combine():
    kb = KeyboardTeleop(KeyboardSettings(linear_speed=0.2))
    kb.press('a', 0.0)
    kb.press('f', 0.0)
    np.testing.assert_allclose(kb.velocity(0.1), (0, 0.2, -0.2))
    kb.press('d', 0.1)
    np.testing.assert_allclose(kb.velocity(0.2), (0, -0.2, -0.2))
    assert kb.press('x', 0.2) == 'stop'
    np.testing.assert_allclose(kb.velocity(0.2), 0.0)


def test_buttons_toggle_gripper_and_mark_success_and_abort_for_press_time():
    kb = KeyboardTeleop(KeyboardSettings(press_time=0.25))
    assert kb.buttons(0.0) == [0, 0, 0, 0]
    assert kb.press(SPACE, 1.0) == 'gripper close'
    assert kb.buttons(1.2) == [1, 0, 0, 0] and kb.buttons(1.3) == [0, 0, 0, 0]
    assert kb.press(SPACE, 2.0) == 'gripper open'
    assert kb.buttons(2.0) == [0, 1, 0, 0]
    kb.press('w', 3.0)
    assert kb.press(ENTER, 3.0) == 'episode success'
    assert kb.buttons(3.1) == [0, 0, 1, 0]
    np.testing.assert_allclose(kb.velocity(3.1), 0.0)  # success stops motion
    assert kb.press(ESCAPE, 4.0) == 'episode abort'
    assert kb.buttons(4.1) == [0, 0, 0, 1]
    kb.press(SPACE, 5.0)
    kb.episode_ended()                     # env re-opens the gripper at reset
    assert kb.press(SPACE, 6.0) == 'gripper close'


def test_speed_keys_are_bounded():
    kb = KeyboardTeleop(KeyboardSettings(linear_speed=0.1, min_speed=0.05, max_speed=0.2))
    for _ in range(10):
        kb.press('+', 0.0)
    assert kb.speed == pytest.approx(0.2)
    for _ in range(10):
        kb.press('-', 0.0)
    assert kb.speed == pytest.approx(0.05)
    assert kb.press('q', 0.0) is None  # unknown keys are ignored


def test_operator_yaw_turns_the_key_map():
    # operator on the robot's right side looking along +y: "forward" is +y, "left" is -x
    kb = KeyboardTeleop(KeyboardSettings(linear_speed=0.1, operator_yaw=math.pi / 2))
    kb.press('w', 0.0)
    np.testing.assert_allclose(kb.velocity(0.1), (0, 0.1, 0), atol=1e-12)
    kb.press('a', 0.0)
    np.testing.assert_allclose(kb.velocity(0.1), (-0.1, 0.1, 0), atol=1e-12)


@pytest.mark.parametrize('field, value', [('linear_speed', 0.0), ('hold_first', -1.0),
                                          ('press_time', math.nan), ('linear_speed', 5.0)])
def test_bad_settings_are_named(field, value):
    with pytest.raises(ValueError, match=field):
        KeyboardTeleop(KeyboardSettings(**{field: value}))
