"""Forward Python ``logging`` records of a node's core library to the node's ROS logger."""

import logging

from rclpy.node import Node


class RosLogHandler(logging.Handler):
    """
    A ``logging.Handler`` that writes each record to a ROS logger at the same severity.

    The pure cores (no rclpy) log with Python's ``logging``; a node attaches this handler so
    that their messages reach the node's console, ``/rosout`` and log files like its own.
    """

    def __init__(self, ros_logger):
        super().__init__()
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` (its message, with its logger's name) at its severity."""
        try:
            text = f'[{record.name}] {self.format(record)}'
            if record.levelno >= logging.CRITICAL:
                self.ros_logger.fatal(text)
            elif record.levelno >= logging.ERROR:
                self.ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self.ros_logger.warning(text)
            elif record.levelno >= logging.INFO:
                self.ros_logger.info(text)
            else:
                self.ros_logger.debug(text)
        except Exception:  # noqa: B902 - logging must never raise into the caller
            self.handleError(record)


def forward_python_logging(node: Node, logger_name: str, level: int = logging.INFO
                           ) -> RosLogHandler:
    """
    Send the records of Python logger ``logger_name`` (and its children) to ``node``'s logger.

    :param node: the node whose ROS logger receives them.
    :param logger_name: e.g. 'serl_agent' for every ``serl_agent.*`` module.
    :param level: the least severity forwarded (INFO by default).
    :returns: the handler (``logging.getLogger(logger_name).removeHandler`` detaches it).
    """
    handler = RosLogHandler(node.get_logger())
    py_logger = logging.getLogger(logger_name)
    py_logger.addHandler(handler)
    py_logger.setLevel(min(level, py_logger.level or level))
    py_logger.propagate = False  # not also to Python's last-resort stderr handler
    return handler
