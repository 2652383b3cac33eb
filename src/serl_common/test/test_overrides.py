"""KEY=VALUE overrides from the command line."""

import pytest
from serl_common.overrides import parse_overrides


def test_values_are_read_as_yaml_and_a_later_key_wins():
    assert parse_overrides(['utd_ratio=2', 'hidden_dims=[64, 64]', 'flat_out=true',
                            'notes=a=b', 'utd_ratio=5']) == {
        'utd_ratio': 5, 'hidden_dims': [64, 64], 'flat_out': True, 'notes': 'a=b'}
    assert parse_overrides([]) == {}


@pytest.mark.parametrize('item', ['utd_ratio', '=3', ' =3'])
def test_an_item_without_a_key_and_value_is_named(item):
    with pytest.raises(ValueError, match=f'--agent-set expects key=value, got {item!r}'):
        parse_overrides([item], '--agent-set')
