"""The command lines serl_launch runs are the ones launch_ros would run."""

import os

import pytest
from serl_bringup.command_line import command_line, format_parameter, ros_arguments
from serl_bringup.graph import NodeSpec


def test_ros_arguments_order_and_format(tmp_path):
    params = tmp_path / 'p.yaml'
    params.write_text('x:\n  ros__parameters: {}\n')
    spec = NodeSpec('pkg', 'exe', 'my_node', parameter_files=(str(params),),
                    parameters=(('flag', True), ('n', 3), ('task', 'PandaPickCube-v0'),
                                ('paths', ['a', 'b'])),
                    remappings=(('/in', '/out'),))
    assert ros_arguments(spec) == [
        '--ros-args', '-r', '__node:=my_node', '--params-file', str(params),
        '-p', 'flag:=true', '-p', 'n:=3', '-p', 'task:="PandaPickCube-v0"',
        '-p', 'paths:=["a", "b"]', '-r', '/in:=/out']


def test_strings_that_look_like_numbers_stay_strings():
    assert format_parameter('1') == '"1"'
    assert format_parameter(0.5) == '0.5'


def test_missing_parameter_file_is_named(tmp_path):
    spec = NodeSpec('pkg', 'exe', 'n', parameter_files=(str(tmp_path / 'nope.yaml'),))
    with pytest.raises(FileNotFoundError, match='nope.yaml'):
        ros_arguments(spec)


def test_missing_package_is_named():
    with pytest.raises(FileNotFoundError, match="'no_such_package' is not installed"):
        command_line(NodeSpec('no_such_package', 'exe', 'n'))


def test_executable_resolves_into_the_install_space():
    argv = command_line(NodeSpec('serl_bringup', 'serl_launch', 'n'))
    assert os.access(argv[0], os.X_OK)
    assert argv[0].endswith('lib/serl_bringup/serl_launch')
