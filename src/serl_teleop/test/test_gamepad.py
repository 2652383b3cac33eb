"""Gamepad js_event parsing without a device: sticks, deadband, buttons, partial records."""

import numpy as np
import pytest
from serl_teleop.gamepad import (AXIS_LEFT_X, AXIS_LEFT_Y, AXIS_RIGHT_Y, BUTTON_ABORT,
                                 BUTTON_CLOSE, BUTTON_OPEN, BUTTON_SUCCESS, GamepadSettings,
                                 GamepadState, js_event, JS_EVENT_AXIS, JS_EVENT_BUTTON,
                                 JS_EVENT_INIT)


def test_sticks_map_to_the_operator_frame_with_a_deadband():
    pad = GamepadState(GamepadSettings(max_speed=0.2, deadband=0.1))
    pad.feed(js_event(JS_EVENT_AXIS, AXIS_LEFT_Y, -32767)     # push away
             + js_event(JS_EVENT_AXIS, AXIS_LEFT_X, -16384)   # half left
             + js_event(JS_EVENT_AXIS, AXIS_RIGHT_Y, 2000))   # resting drift, in the deadband
    np.testing.assert_allclose(pad.velocity(), [0.2, 0.1, 0.0], atol=1e-4)
    pad.feed(js_event(JS_EVENT_AXIS, AXIS_RIGHT_Y, -32767))   # right stick up
    assert pad.velocity()[2] == pytest.approx(0.2)
    turned = GamepadState(GamepadSettings(max_speed=0.2, operator_yaw=np.pi / 2))
    turned.feed(js_event(JS_EVENT_AXIS, AXIS_LEFT_Y, -32767))
    np.testing.assert_allclose(turned.velocity(), [0.0, 0.2, 0.0], atol=1e-9)


def test_buttons_initial_state_partial_records_and_release():
    pad = GamepadState()
    data = (js_event(JS_EVENT_BUTTON | JS_EVENT_INIT, BUTTON_OPEN, 1)
            + js_event(JS_EVENT_BUTTON, BUTTON_CLOSE, 1) + js_event(JS_EVENT_BUTTON, 3, 1))
    pad.feed(data[:5])            # a record split across two reads
    assert pad.buttons == [0, 0, 0, 0]
    pad.feed(data[5:])
    assert pad.buttons == [1, 1, 0, 0]   # [close, open, success, abort]; button 3 unmapped
    pad.feed(js_event(JS_EVENT_BUTTON, BUTTON_SUCCESS, 1)
             + js_event(JS_EVENT_BUTTON, BUTTON_ABORT, 1)
             + js_event(JS_EVENT_BUTTON, BUTTON_CLOSE, 0))
    assert pad.buttons == [0, 1, 1, 1]
    pad.feed(js_event(JS_EVENT_AXIS, AXIS_LEFT_Y, -32767))
    pad.release()                 # unplugged: nothing held, no motion
    assert pad.buttons == [0, 0, 0, 0] and not pad.velocity().any()


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match='deadband'):
        GamepadState(GamepadSettings(deadband=1.5))
