"""SpaceMouse core: input_event bytes (through a real pipe) -> velocity and buttons; search."""

import os

import numpy as np
import pytest
from serl_teleop.spacemouse import (BTN_0, BTN_1, encode_event, EV_ABS, EV_KEY, EV_REL, EV_SYN,
                                    EVENT_SIZE, find_spacemouse, read_available,
                                    SpaceMouseError, SpaceMouseSettings, SpaceMouseState)


@pytest.fixture
def pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    yield r, w
    os.close(r)
    os.close(w)


def _frame(*events):
    return b''.join(encode_event(*e) for e in events) + encode_event(EV_SYN, 0, 0)


def test_rel_axes_map_to_rep103_and_go_to_zero_when_events_stop(pipe):
    r, w = pipe
    state = SpaceMouseState(SpaceMouseSettings(full_scale=350, max_speed=0.3, rel_timeout=0.1))
    assert read_available(r) is None
    # push away (-Y raw), left (-X raw), pull up (-Z raw), half deflection each
    os.write(w, _frame((EV_REL, 0, -175), (EV_REL, 1, -175), (EV_REL, 2, -175)))
    assert state.feed(read_available(r), now=1.0) == 4
    np.testing.assert_allclose(state.velocity(1.05), (0.15, 0.15, 0.15))
    np.testing.assert_allclose(state.velocity(1.2), 0.0)  # no events: cap at rest


def test_abs_axes_hold_and_values_clip(pipe):
    r, w = pipe
    state = SpaceMouseState(SpaceMouseSettings(full_scale=350, max_speed=0.3))
    os.write(w, _frame((EV_ABS, 1, 700)))                 # pull hard towards the operator
    state.feed(read_available(r), now=0.0)
    np.testing.assert_allclose(state.velocity(100.0), (-0.3, 0, 0))


def test_buttons_and_a_record_split_over_reads(pipe):
    r, w = pipe
    state = SpaceMouseState(SpaceMouseSettings())
    data = _frame((EV_KEY, BTN_0, 1), (EV_KEY, BTN_1, 0))
    os.write(w, data[:EVENT_SIZE + 5])
    assert state.feed(read_available(r), now=0.0) == 1
    os.write(w, data[EVENT_SIZE + 5:])
    assert state.feed(read_available(r), now=0.0) == 2
    assert state.buttons == [1, 0]


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match='full_scale'):
        SpaceMouseState(SpaceMouseSettings(full_scale=0.0))


def _sys_input(root, entries):
    for name, device_name, vendor in entries:
        d = root / name / 'device' / 'id'
        d.mkdir(parents=True)
        (root / name / 'device' / 'name').write_text(device_name + '\n')
        (d / 'vendor').write_text(vendor + '\n')
    return str(root)


def test_no_spacemouse_gives_a_clear_message(tmp_path):
    sys_input = _sys_input(tmp_path, [('event0', 'AT Translated Set 2 keyboard', '0001')])
    with pytest.raises(SpaceMouseError, match='no 3Dconnexion SpaceMouse found'):
        find_spacemouse('', sys_input)


def test_spacemouse_is_found_by_name_and_checked_to_exist(tmp_path):
    sys_input = _sys_input(tmp_path, [('event3', 'Logitech USB Mouse', '046d'),
                                      ('event7', '3Dconnexion SpaceMouse Compact', '256f')])
    with pytest.raises(SpaceMouseError, match='/dev/input/event7 does not exist'):
        find_spacemouse('', sys_input)
    fifo = tmp_path / 'fake_event'
    os.mkfifo(fifo)
    assert find_spacemouse(str(fifo), sys_input) == str(fifo)
