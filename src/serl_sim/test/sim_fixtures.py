"""Helpers shared by the sim node tests: polling with a timeout, an in-process sim node."""

import contextlib
import sys
import threading
import time

import rclpy
from rclpy.executors import MultiThreadedExecutor
from serl_sim.sim_node import SimNode


def wait_for(condition, timeout, what='condition'):
    """Poll ``condition()`` until it returns a true value (returned); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


@contextlib.contextmanager
def running_sim(make_probe, parameter_overrides):
    """
    Yield ``(sim, probe)``: a SimNode and ``make_probe(context)`` spun by one executor thread.

    As sim_node's main() does, the physics thread hands the GIL over every 0.5 ms, so the
    executor threads (services, commands) are not starved while physics catches up.
    """
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    context = rclpy.Context()
    rclpy.init(context=context)
    sim = SimNode(context=context, parameter_overrides=parameter_overrides)
    probe = make_probe(context)
    executor = MultiThreadedExecutor(context=context)
    executor.add_node(sim)
    executor.add_node(probe)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield sim, probe
    finally:
        executor.shutdown(timeout_sec=5.0)
        thread.join(timeout=5.0)
        sim.destroy_node()
        probe.destroy_node()
        rclpy.try_shutdown(context=context)
        sys.setswitchinterval(switch_interval)
