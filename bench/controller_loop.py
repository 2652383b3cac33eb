"""
Benchmark the cartesian_impedance_controller node: loop rate, period jitter, state->effort latency.

Usage: ``python bench/controller_loop.py [--seconds S] [--rate HZ]`` (env sourced, workspace
built).

The node runs as its own process (the installed executable with config/controller.yaml, torque
mode, MuJoCo FR3 model) and this process plays the robot: it publishes /joint_states at the
node's rate and receives /effort_controller/commands. Two phases of S seconds:
- ``idle``: nothing else runs (apart from whatever else loads the machine);
- ``load``: a learner stand-in (torch 1 thread, MLP forward/backward/Adam in a loop) loads a
  core, as the learner process does on a robot PC.
Per phase, the node's own loop statistics (achieved rate, period p50/p99/max, |period -
nominal| p99/max) are read from its /diagnostics, and the latency from a robot-state message to
the first effort message that reflects it is measured here: every 20 ms the published joint-4
velocity steps, and the time from that publish to the first effort that changed is recorded
(it includes up to one loop period of waiting for the node's timer, DDS both ways and this
process's executor). The last line is ``key=value ...``.
"""

import argparse
import os
from pathlib import Path
import subprocess
import sys
import threading
import time

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_DOMAIN_ID', '93')

LEARNER = """
import sys, time, torch
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                          torch.nn.ReLU(), torch.nn.Linear(256, 1))
opt = torch.optim.Adam(net.parameters(), 3e-4)
x = torch.randn(256, 256)
end = time.monotonic() + float(sys.argv[1])
steps = 0
while time.monotonic() < end:
    loss = net(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    steps += 1
print(steps)
"""


def core_cost_us(samples=2000):
    """Median cost (us) of MujocoRobotModel.state and CartesianImpedanceController.update."""
    import mujoco
    import numpy as np
    from serl_sim import description

    from serl_controller.impedance import CartesianImpedanceController
    from serl_controller.mujoco_model import MujocoRobotModel
    from serl_controller.params import ImpedanceParams

    model = mujoco.MjModel.from_xml_path(str(description.MJCF_PATH))
    robot = MujocoRobotModel(model, mujoco.MjData(model))
    q, dq = np.array(description.ARM.home), np.full(7, 0.01)
    state = robot.state(q, dq)
    controller = CartesianImpedanceController()
    controller.on_configure(ImpedanceParams())
    controller.on_activate(state)
    controller.set_equilibrium_pose(state.tcp_position + 0.05, state.tcp_quaternion)
    costs = {'state': [], 'update': []}
    for _ in range(samples):
        t0 = time.perf_counter()
        state = robot.state(q, dq)
        t1 = time.perf_counter()
        controller.update(0.0, 1e-3, state)
        t2 = time.perf_counter()
        costs['state'].append(t1 - t0)
        costs['update'].append(t2 - t1)
    return {k: 1e6 * float(np.median(v)) for k, v in costs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--seconds', type=float, default=4.5,
                        help='per phase; the node keeps the last 5000 periods')
    parser.add_argument('--rate', type=float, default=1000.0)
    parser.add_argument('--state-timeout', type=float, default=0.1,
                        help='s; the default 20 ms may trip on a loaded 2-core machine')
    args = parser.parse_args()

    import numpy as np
    from diagnostic_msgs.msg import DiagnosticArray
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from serl_controller.controller_node import FR3_HOME

    exe = ROOT / 'install/serl_controller/lib/serl_controller/cartesian_impedance_controller'
    node_proc = subprocess.Popen(
        [str(exe), '--ros-args', '--params-file', str(ROOT / 'config/controller.yaml'),
         '-p', f'update_rate:={args.rate}', '-p', f'state_timeout:={args.state_timeout}',
         '-p', 'diagnostics_rate:=4.0', '-p', 'autostart:=true'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    rclpy.init()
    node = rclpy.create_node('controller_loop_bench')
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    joint_pub = node.create_publisher(JointState, '/joint_states', qos_profile_sensor_data)
    lock = threading.Lock()
    shared = {'diag': None, 'efforts': 0, 'step_time': None, 'prev_tau': None,
              'latencies': [], 'dq4': 0.0, 'missed': 0}

    def on_effort(msg):
        now = time.monotonic()
        tau = np.asarray(msg.data)
        with lock:
            shared['efforts'] += 1
            if (shared['step_time'] is not None and shared['prev_tau'] is not None
                    and np.max(np.abs(tau - shared['prev_tau'])) > 1e-6):
                shared['latencies'].append(now - shared['step_time'])
                shared['step_time'] = None
            shared['prev_tau'] = tau

    def on_diag(msg):
        for status in msg.status:
            if status.name.startswith('cartesian_impedance_controller'):
                with lock:
                    shared['diag'] = {kv.key: kv.value for kv in status.values}

    node.create_subscription(Float64MultiArray, '/effort_controller/commands', on_effort,
                             reliable)
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diag, reliable)
    change_state = node.create_client(ChangeState,
                                      '/cartesian_impedance_controller/change_state')
    get_state = node.create_client(GetState, '/cartesian_impedance_controller/get_state')
    names = [f'fr3_joint{i}' for i in range(1, 8)] + ['fr3_finger_joint1', 'fr3_finger_joint2']
    ticks = [0]

    def publish_state():
        ticks[0] += 1
        msg = JointState(name=names, position=list(FR3_HOME) + [0.04, 0.04])
        with lock:
            if shared['step_time'] is not None and time.monotonic() - shared['step_time'] > 0.2:
                shared['step_time'] = None  # the node was not running: no effort reflected it
                shared['missed'] += 1
            if ticks[0] % max(1, int(args.rate * 0.02)) == 0 and shared['step_time'] is None:
                shared['dq4'] = 0.05 if shared['dq4'] == 0.0 else 0.0
                shared['step_time'] = time.monotonic()
            dq4 = shared['dq4']
        msg.velocity = [0.0, 0.0, 0.0, dq4, 0.0, 0.0, 0.0, 0.0, 0.0]
        msg.effort = [0.0] * 9
        joint_pub.publish(msg)

    node.create_timer(1.0 / args.rate, publish_state)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()

    def wait(cond, timeout, what):
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end or node_proc.poll() is not None:
                raise SystemExit(f'timed out waiting for {what}; node output:\n'
                                 + (node_proc.stdout.read() if node_proc.poll() is not None
                                    else ''))
            time.sleep(0.01)

    def lifecycle_state():
        future = get_state.call_async(GetState.Request())
        wait(future.done, 10.0, 'lifecycle state')
        return future.result().current_state.label

    def transition(tid):
        future = change_state.call_async(ChangeState.Request(transition=Transition(id=tid)))
        wait(future.done, 10.0, 'lifecycle transition')
        return future.result().success

    def phase(name, load):
        # Restart the loop (resets the node's statistics), then measure.
        assert change_state.wait_for_service(timeout_sec=20.0)
        wait(lambda: shared['efforts'] > 0, 20.0, 'effort commands (autostart)')
        if lifecycle_state() == 'active':
            transition(Transition.TRANSITION_DEACTIVATE)
        learner = None
        if load:
            learner = subprocess.Popen([sys.executable, '-c', LEARNER, str(args.seconds + 2)],
                                       stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)  # let the learner reach its steady state before measuring
        if not transition(Transition.TRANSITION_ACTIVATE):
            raise SystemExit('activation failed (robot state older than state_timeout)')
        with lock:
            shared['latencies'].clear()
            shared['diag'] = None
            shared['step_time'] = None
        start_count = shared['efforts']
        time.sleep(args.seconds)  # measuring window, not synchronisation
        with lock:
            shared['diag'] = None
        wait(lambda: shared['diag'] is not None, 5.0, 'diagnostics')
        with lock:
            diag = dict(shared['diag'])
            lat = np.array(shared['latencies']) * 1e3
        received = shared['efforts'] - start_count
        learner_steps = learner.communicate()[0].strip() if learner else '-'
        result = {
            f'{name}_rate_hz': float(diag['rate_hz']),
            f'{name}_period_p50_ms': float(diag['period_p50_ms']),
            f'{name}_period_p99_ms': float(diag['period_p99_ms']),
            f'{name}_period_max_ms': float(diag['period_max_ms']),
            f'{name}_jitter_p99_ms': float(diag['jitter_p99_ms']),
            f'{name}_latency_p50_ms': float(np.percentile(lat, 50)) if lat.size else float('nan'),
            f'{name}_latency_p99_ms': float(np.percentile(lat, 99)) if lat.size else float('nan'),
            f'{name}_latency_max_ms': float(lat.max()) if lat.size else float('nan'),
        }
        print(f'{name}: node state {diag["lifecycle_state"]}, {diag["samples"]} periods, '
              f'{received} effort messages received here, {lat.size} latency samples, '
              f'learner steps {learner_steps}')
        for key, value in result.items():
            print(f'  {key} = {value:.3f}')
        return result

    try:
        results = {f'core_{k}_us': v for k, v in core_cost_us().items()}
        print(f"core per tick (median): model state {results['core_state_us']:.1f} us, "
              f"law update {results['core_update_us']:.1f} us")
        results.update(phase('idle', load=False))
        results.update(phase('load', load=True))
        results['load_rate_ratio'] = results['load_rate_hz'] / args.rate
        print(f'target rate {args.rate:.0f} Hz; under learner load the node reaches '
              f'{results["load_rate_ratio"]:.2f} of it')
        print(' '.join(f'{k}={v:.3f}' for k, v in results.items()))
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        node_proc.terminate()
        try:
            node_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node_proc.kill()


if __name__ == '__main__':
    main()
