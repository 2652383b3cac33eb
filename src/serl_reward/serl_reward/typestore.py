"""
The rosbags typestore of the project: ROS 2 Jazzy types plus every ``serl_msgs/msg/*`` type.

The one place where the ``serl_msgs`` definitions are registered with ``rosbags``; the bag
readers and writers of serl_reward and serl_agent both use it. The type hash (RIHS01) rosbags
computes from the installed ``.msg`` files equals the one rosidl generated, so bags written with
this typestore are those ``ros2 bag record`` writes. No rclpy import.
"""

from pathlib import Path

from rosbags.typesys import get_types_from_msg, get_typestore, Stores

TRANSITION_TYPE = 'serl_msgs/msg/Transition'


class MessageDefinitionError(RuntimeError):
    """The ``serl_msgs`` ``.msg`` files cannot be found or lack a type; names the directory."""


def serl_msgs_dir():
    """
    Find the directory of the installed ``serl_msgs`` ``.msg`` files.

    Looked up with ament_index (``share/serl_msgs/msg``); falls back to the source tree next to
    this package when the ament index does not know serl_msgs (e.g. a plain ``pip`` checkout).

    :returns: pathlib.Path of the ``msg`` directory.
    :raises MessageDefinitionError: neither exists.
    """
    try:
        from ament_index_python.packages import get_package_share_directory
        path = Path(get_package_share_directory('serl_msgs')) / 'msg'
        if path.is_dir():
            return path
    except (ImportError, LookupError, ValueError):
        pass
    for parent in Path(__file__).resolve().parents:
        for path in (parent / 'serl_msgs' / 'msg', parent / 'src' / 'serl_msgs' / 'msg'):
            if path.is_dir():
                return path
    raise MessageDefinitionError(
        'cannot find the serl_msgs .msg files: source the workspace (install/setup.bash) so '
        'that ament_index finds serl_msgs')


_CACHED = None


def make_typestore(msg_dir=None):
    """
    Return a rosbags Jazzy typestore (``Stores.ROS2_JAZZY``) with ``serl_msgs/msg/*`` registered.

    :param msg_dir: directory of the ``.msg`` files; None = the installed serl_msgs
        (:func:`serl_msgs_dir`), and then the typestore is built once and cached.
    :returns: ``rosbags.typesys.store.Typestore``.
    :raises MessageDefinitionError: the ``.msg`` files cannot be found, or there is no
        ``Transition.msg`` among them.
    """
    global _CACHED
    if msg_dir is None and _CACHED is not None:
        return _CACHED
    directory = Path(msg_dir) if msg_dir is not None else serl_msgs_dir()
    types = {}
    for path in sorted(directory.glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'serl_msgs/msg/{path.stem}'))
    if TRANSITION_TYPE not in types:
        raise MessageDefinitionError(f'{directory}: no Transition.msg found')
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(types)
    if msg_dir is None:
        _CACHED = store
    return store
