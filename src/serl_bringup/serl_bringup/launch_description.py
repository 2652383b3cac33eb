"""
Build a ``launch.LaunchDescription`` from a graph of :mod:`serl_bringup.graph`.

Used by ``launch/*.launch.py`` on machines with a full ROS 2 install (launch and launch_ros
are imported here only). Each :class:`~serl_bringup.graph.NodeSpec` becomes one
``launch_ros.actions.Node`` with the same package, executable, name, parameter files,
parameter overrides and remappings that ``serl_launch`` passes on its command lines; a
``required`` node shuts the launch down when it exits, as ``serl_launch`` does, and a
``respawn`` node (the learner) is restarted after ``respawn_delay`` (launch_ros restarts it
every time; ``serl_launch`` also doubles the delay and stops the graph after repeated deaths).
"""

from pathlib import Path


def graph_launch_description(graph_name: str, config_dir: Path):
    """Return the LaunchDescription of graph ``graph_name``, its arguments declared."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from serl_bringup.graph import get_graph

    graph = get_graph(graph_name)

    def nodes(context):
        values = {a.name: LaunchConfiguration(a.name).perform(context) for a in graph.arguments}
        actions = []
        for spec in graph.nodes(values, config_dir):
            actions.append(Node(
                package=spec.package,
                executable=spec.executable,
                name=spec.name, namespace=spec.namespace or None,
                parameters=list(spec.parameter_files) + [dict(spec.parameters)],
                remappings=list(spec.remappings),
                arguments=list(spec.arguments),
                output='screen',
                respawn=spec.respawn, respawn_delay=spec.respawn_delay,
                # a respawning node restarts instead (launch_ros has no death window)
                on_exit=(Shutdown(reason=f'{spec.name} exited')
                         if spec.required and not spec.respawn else None),
            ))
        return actions

    declared = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                      choices=list(a.choices) or None)
                for a in graph.arguments]
    return LaunchDescription(declared + [OpaqueFunction(function=nodes)])
