"""The one ``main()`` of a serl node: init, build, spin until Ctrl-C or shutdown, clean up."""

import os
import sys
from typing import Callable, Optional, Sequence, Tuple, Type

import rclpy
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], args: Optional[Sequence[str]] = None, *,
             make_executor: Optional[Callable[[], Executor]] = None,
             on_start: Optional[Callable[[Node], None]] = None,
             keep_spinning_on: Tuple[Type[BaseException], ...] = (),
             fatal_errors: Tuple[Type[BaseException], ...] = ()) -> int:
    """
    Run one node the ROS 2 way and return the process exit status.

    ``rclpy.init(args=args)``; build the node; call ``on_start(node)`` (e.g. a lifecycle node's
    autostart ``trigger_configure()``); spin it, on ``make_executor()`` when given (e.g.
    ``lambda: MultiThreadedExecutor(num_threads=2)`` for a node whose service callback waits
    on another callback) else on rclpy's global executor, until Ctrl-C (SIGINT), SIGTERM or
    ``rclpy.shutdown()``; then ``node.destroy_node()`` (also when construction or spinning
    ended early, so a node's own cleanup in ``destroy_node`` always runs) and
    ``rclpy.try_shutdown()``.

    rclpy's signal handler shuts the context down from its own thread; when it does so between
    ``try_shutdown``'s check and its shutdown, rcl raises ``RuntimeError`` ('already called'),
    which is ignored: the context is down either way. Likewise an exception escaping the spin
    after the context is down (rcl: 'the given context is not valid' while the executor builds
    its wait set) ends the node normally.

    :param make_node: builds the node, called after ``rclpy.init`` (a node class will do).
    :param args: command-line arguments for ``rclpy.init`` (ROS arguments are parsed from them).
    :param make_executor: builds the executor to spin the node on; None: ``rclpy.spin(node)``.
    :param on_start: called once with the node before spinning.
    :param keep_spinning_on: exceptions escaping a spin that are logged as errors, after which
        the node keeps spinning (rclpy's lifecycle services raise ``RCLError`` on a transition
        invalid in the current state).
    :param fatal_errors: exceptions from construction, ``on_start`` or spinning that end the
        node with exit status 1 after a fatal log line (on stderr when no node was built).
        Any other exception propagates after the cleanup.
    :returns: 0 after Ctrl-C or shutdown, 1 after one of ``fatal_errors``.
    """
    rclpy.init(args=args)
    node = None
    executor = None
    status = 0
    try:
        node = make_node()
        if on_start is not None:
            on_start(node)
        if make_executor is not None:
            executor = make_executor()
            executor.add_node(node)
        while rclpy.ok():
            try:
                if executor is None:
                    rclpy.spin(node)
                else:
                    executor.spin()
            except keep_spinning_on as error:
                node.get_logger().error(f'{error}; node keeps running')
            except Exception:
                if rclpy.ok():
                    raise
                # The signal handler shut the context down while the executor was building
                # its wait set: rcl reports an invalid context. That is a shutdown.
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except fatal_errors as error:
        status = 1
        if node is None:
            print(f'{os.path.basename(sys.argv[0])}: {error}', file=sys.stderr)
        else:
            node.get_logger().fatal(str(error))
    finally:
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        try:
            rclpy.try_shutdown()
        except RuntimeError:
            pass
    return status
