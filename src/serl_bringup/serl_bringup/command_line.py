"""
Turn a :class:`~serl_bringup.graph.NodeSpec` into the command line launch_ros would run.

launch_ros starts a node as ``<prefix>/lib/<package>/<executable> --ros-args -r __node:=<name>
--params-file <file> ... -r <from>:=<to> ...``; this module builds the same argument vector so
that the launcher for machines without launch_ros starts identical processes.
"""

import json
from pathlib import Path
from typing import List

from serl_bringup.graph import NodeSpec, ParameterValue


def find_executable(package: str, executable: str) -> Path:
    """
    Return the installed path of ``executable`` of ``package`` (``lib/<package>/``).

    :raises FileNotFoundError: naming the package or executable that is not installed, e.g.
        ``rviz2`` on a machine with only the pip ROS wheels.

    """
    from ament_index_python.packages import get_package_prefix, PackageNotFoundError
    try:
        prefix = Path(get_package_prefix(package))
    except PackageNotFoundError:
        raise FileNotFoundError(
            f"ROS package '{package}' is not installed (source env.sh; packages such as rviz2 "
            'need a full ROS 2 install)') from None
    path = prefix / 'lib' / package / executable
    if not path.exists():
        raise FileNotFoundError(f"package '{package}' has no executable '{executable}' ({path})")
    return path


def format_parameter(value: ParameterValue) -> str:
    """
    Format a parameter value for ``-p name:=value`` (parsed as YAML by rcl).

    Strings are quoted so that '1' or 'true' stay strings, as launch_ros keeps them.
    """
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)


def ros_arguments(spec: NodeSpec) -> List[str]:
    """
    Return the ``--ros-args ...`` part of the command line for ``spec``.

    :raises FileNotFoundError: when a parameter file of ``spec`` does not exist.

    """
    args = ['--ros-args', '-r', f'__node:={spec.name}']
    if spec.namespace:
        args += ['-r', f'__ns:=/{spec.namespace}']
    for path in spec.parameter_files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"parameter file of node '{spec.name}' not found: {path}")
        args += ['--params-file', str(path)]
    for name, value in spec.parameters:
        args += ['-p', f'{name}:={format_parameter(value)}']
    for source, target in spec.remappings:
        args += ['-r', f'{source}:={target}']
    return args


def command_line(spec: NodeSpec) -> List[str]:
    """Return the full argument vector that starts ``spec`` (see :func:`ros_arguments`)."""
    executable = str(find_executable(spec.package, spec.executable))
    return [executable] + list(spec.arguments) + ros_arguments(spec)
