"""Test helpers: synthetic transitions, rclpy spinning with deadlines, node processes."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np


def make_observation(rng, images=False):
    """Return an observation dict with the pick-cube keys (and two small images)."""
    obs = {
        'tcp_pose': rng.normal(size=7).astype(np.float32),
        'tcp_vel': rng.normal(size=6).astype(np.float32),
        'gripper_width': rng.uniform(0, 0.08, size=1).astype(np.float32),
        'object_pos': rng.normal(size=3).astype(np.float32),
    }
    if images:
        obs['front'] = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        obs['wrist'] = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return obs


def make_episode(rng, actor_id='actor', episode=0, steps=5, first_sequence=1, success=True,
                 images=False):
    """Return a list of transition dicts forming one episode."""
    out = []
    obs = make_observation(rng, images)
    for i in range(steps):
        nxt = make_observation(rng, images)
        last = i == steps - 1
        out.append({
            'observation': obs, 'next_observation': nxt,
            'action': rng.uniform(-1, 1, 4).astype(np.float32),
            'reward': 1.0 if (last and success) else 0.0,
            'terminated': last and success, 'truncated': last and not success,
            'success': last and success, 'intervention': True,
            'actor_id': actor_id, 'sequence': first_sequence + i, 'episode': episode,
            'step': i, 'stamp_ns': (1 + 100 * episode) * 1_000_000_000 + i * 100_000_000,
        })
        obs = nxt
    return out


def assert_transition_equal(a, b):
    """Assert two transition dicts are equal (arrays exactly)."""
    assert set(a) >= set(b) - {'bag'}
    for key in ('reward', 'terminated', 'truncated', 'success', 'intervention', 'actor_id',
                'sequence', 'episode', 'step', 'stamp_ns'):
        assert a[key] == b[key], key
    np.testing.assert_array_equal(a['action'], b['action'])
    for key in ('observation', 'next_observation'):
        assert list(a[key]) == list(b[key])
        for name in a[key]:
            assert a[key][name].dtype == b[key][name].dtype, name
            np.testing.assert_array_equal(a[key][name], b[key][name])


def spin_until(executor, predicate, timeout, what):
    """Spin ``executor`` until ``predicate()`` is true; fail naming ``what`` after timeout s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}')
        executor.spin_once(timeout_sec=0.05)


@contextlib.contextmanager
def ros_context():
    """Yield a fresh rclpy Context (and SingleThreadedExecutor) shut down afterwards."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    context = rclpy.Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        yield context, executor
    finally:
        executor.shutdown()
        rclpy.try_shutdown(context=context)


def start_node(module, params, log_path):
    """Start ``python -m serl_agent.ros.<module>`` with ``-p`` params; return (process, log)."""
    cmd = [sys.executable, '-m', f'serl_agent.ros.{module}', '--ros-args']
    for name, value in params.items():
        cmd += ['-p', f'{name}:={value}']
    log = open(log_path, 'w')
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONUNBUFFERED='1')), log


def stop_node(proc, log, sig=signal.SIGINT, timeout=20.0):
    """Send ``sig``, wait ``timeout`` s (then kill), close the log; return the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    return proc.returncode
