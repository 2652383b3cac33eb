"""
Benchmark serl_sim: physics steps/s, env steps/s of each Gymnasium env, sim-node real-time factor.

Usage: ``python bench/sim_throughput.py [--seconds S]`` (env sourced, MUJOCO_GL=egl).

Figures:
- ``physics``: bare ``mj_step`` of the pick-cube scene; ``physics_law``: one physics step plus
  the impedance law (``MujocoRobotModel.read_state`` + ``CartesianImpedanceController.update``),
  the inner loop of every env step.
- ``<env>``: env steps/s with random actions (resets counted inside the time); the ratio to the
  10 Hz control rate says how many times faster than real time the env runs.
- ``node_rtf``: the sim node (subprocess, pick-cube, config/sim.yaml: ``control_mode``
  impedance, i.e. the law on every physics step with no target sent, states at 100 Hz; both
  cameras at 10 Hz) asked for real_time_factor 1 and for 10; the achieved factor is measured
  from /clock against
  the wall clock by a subscriber in this process, which also records the wall-clock gaps
  between consecutive /joint_states messages (what a controller's state timeout sees).
The last line is ``key=value ...``.
"""

import argparse
import os
import subprocess
import sys
import time

import gymnasium as gym
import mujoco
import numpy as np


def physics_rates(seconds):
    from serl_controller.impedance import CartesianImpedanceController
    from serl_controller.mujoco_model import MujocoRobotModel
    from serl_controller.params import ImpedanceParams
    from serl_sim.simulation import FrankaSim
    from serl_sim.tasks import PickCubeTask

    sim = FrankaSim(PickCubeTask())
    sim.reset(np.random.default_rng(0))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            mujoco.mj_step(sim.model, sim.data)
        steps += 100
    bare = steps / (time.perf_counter() - start)
    sim.reset(np.random.default_rng(0))
    model = MujocoRobotModel(sim.model, sim.data)
    law = CartesianImpedanceController()
    law.on_configure(ImpedanceParams())
    law.on_activate(model.read_state())
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            sim.step(law.update(sim.time, sim.physics_dt, model.read_state()))
        steps += 100
    return bare, steps / (time.perf_counter() - start)


def env_rate(env_id, seconds):
    import serl_sim  # noqa: F401  (registers the envs)
    env = gym.make(env_id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
        steps += 1
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def node_rtf(requested, seconds):
    import rclpy
    from rclpy.node import Node
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image, JointState
    from serl_sim.sim_node import SENSOR

    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('ROS_DOMAIN_ID', '93')
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen(
        [sys.executable, '-m', 'serl_sim.sim_node', '--ros-args', '--params-file',
         os.path.join(root, 'config', 'sim.yaml'), '-p', f'real_time_factor:={requested}',
         '-p', 'camera_rate:=10.0'], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(env['ROS_DOMAIN_ID']))
    node = Node('bench_probe', context=context)
    clocks, counts, arrivals = [], {'joint': 0, 'image': 0}, []
    node.create_subscription(
        Clock, '/clock',
        lambda m: clocks.append((time.monotonic(), m.clock.sec + m.clock.nanosec * 1e-9)),
        SENSOR)

    def on_joint(msg):
        counts['joint'] += 1
        arrivals.append(time.monotonic())

    node.create_subscription(JointState, '/joint_states', on_joint, SENSOR)
    node.create_subscription(Image, '/cameras/front/image_raw',
                             lambda m: counts.__setitem__('image', counts['image'] + 1), SENSOR)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    deadline = time.monotonic() + 30.0
    while not clocks and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    if not clocks:
        raise RuntimeError('the sim node published no /clock within 30 s')
    clocks.clear()
    arrivals.clear()
    counts.update(joint=0, image=0)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        executor.spin_once(timeout_sec=0.05)
    proc.terminate()
    proc.wait(timeout=20)
    node.destroy_node()
    rclpy.try_shutdown(context=context)
    (w0, s0), (w1, s1) = clocks[0], clocks[-1]
    wall = time.monotonic() - start
    gaps = np.diff(arrivals) * 1000.0
    return ((s1 - s0) / (w1 - w0), counts['joint'] / wall, counts['image'] / wall,
            float(np.percentile(gaps, 99)), float(gaps.max()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=10.0, help='per measurement')
    args = parser.parse_args()
    results = {}
    bare, law = physics_rates(args.seconds)
    print(f'physics: {bare:.0f} steps/s bare, {law:.0f} steps/s with the impedance law '
          f'({bare / 500:.1f}x / {law / 500:.1f}x the 500 Hz real-time rate)')
    results['physics_steps_per_s'] = round(bare)
    results['physics_law_steps_per_s'] = round(law)
    import serl_sim
    for env_id in serl_sim.ENVS:
        rate = env_rate(env_id, args.seconds)
        print(f'{env_id}: {rate:.1f} env steps/s ({rate / 10:.1f}x real time at 10 Hz)')
        results[f'{env_id.split("-")[0]}_steps_per_s'] = round(rate, 1)
    for requested in (1.0, 10.0):
        rtf, joint_hz, image_hz, gap99, gap_max = node_rtf(requested, args.seconds)
        print(f'sim node, cameras at 10 Hz, real_time_factor {requested:g}: achieved '
              f'{rtf:.2f} ({rtf / requested:.0%} of requested); received /joint_states '
              f'{joint_hz:.0f} Hz (gap between messages: 99th percentile {gap99:.1f} ms, '
              f'max {gap_max:.1f} ms), front images {image_hz:.1f} Hz (wall)')
        results[f'node_rtf_at_{requested:g}'] = round(rtf, 3)
        if requested == 1.0:
            results['joint_states_gap_p99_ms'] = round(gap99, 1)
            results['joint_states_gap_max_ms'] = round(gap_max, 1)
    print(' '.join(f'{k}={v}' for k, v in results.items()))


if __name__ == '__main__':
    main()
