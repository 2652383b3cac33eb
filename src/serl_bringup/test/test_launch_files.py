"""
launch/*.launch.py and serl_launch are built from the same graph description.

launch_ros is not installable on the pip-only machines, so the launch files cannot be executed
here. What keeps the two launchers from drifting is structural, and checked here: each launch
file only hands a graph name to serl_bringup.launch_description, every graph has its launch file,
and the launch_ros adapter passes every NodeSpec field on to launch_ros' Node.
"""

import ast
from pathlib import Path

from serl_bringup import launch_description
from serl_bringup.graph import default_config_dir, GRAPHS, NodeSpec

LAUNCH_DIR = default_config_dir().parent / 'launch'


def _graph_named_by(path: Path) -> str:
    tree = ast.parse(path.read_text(), filename=str(path))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, 'id', None) == 'graph_launch_description']
    assert len(calls) == 1, f'{path.name} must call graph_launch_description once'
    node_calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                  and getattr(n.func, 'id', getattr(n.func, 'attr', None)) == 'Node']
    assert not node_calls, f'{path.name} declares nodes of its own'
    return calls[0].args[0].value


def test_every_graph_has_a_launch_file_and_back():
    files = {p.name.removesuffix('.launch.py'): p for p in LAUNCH_DIR.glob('*.launch.py')}
    assert set(files) == set(GRAPHS)
    for name, path in files.items():
        assert _graph_named_by(path) == name


def test_adapter_passes_every_node_spec_field_to_launch_ros():
    source = Path(launch_description.__file__).read_text()
    for field in NodeSpec.__dataclass_fields__:
        assert f'spec.{field}' in source, f'NodeSpec.{field} is not passed to launch_ros'
