"""Test helper: the FR3 MJCF from serl_sim with this package's impedance law in the loop."""

import mujoco
import numpy as np

from serl_controller.impedance import CartesianImpedanceController
from serl_controller.mujoco_model import MujocoRobotModel
from serl_controller.params import ImpedanceParams
from serl_sim import description


class Fr3Loop:
    """MuJoCo FR3 at the home pose, driven by `CartesianImpedanceController` at 1 kHz."""

    def __init__(self, params: ImpedanceParams = ImpedanceParams(), timestep: float = 1e-3):
        self.model = mujoco.MjModel.from_xml_path(str(description.MJCF_PATH))
        self.model.opt.timestep = timestep
        self.data = mujoco.MjData(self.model)
        self.robot = MujocoRobotModel(self.model, self.data)
        self.data.qpos[self.robot.qpos_index] = description.ARM.home
        mujoco.mj_forward(self.model, self.data)
        self.actuators = [self.model.actuator(name).id for name in self.robot.joint_names]
        self.controller = CartesianImpedanceController()
        self.controller.on_configure(params)
        self.state = self.robot.read_state()
        self.controller.on_activate(self.state)
        self.home_position = self.state.tcp_position.copy()
        self.home_quaternion = self.state.tcp_quaternion.copy()
        self.time = 0.0

    def step(self) -> np.ndarray:
        """Run one control period (state -> torque -> physics step); return the torque."""
        dt = self.model.opt.timestep
        self.state = self.robot.read_state()
        tau = self.controller.update(self.time, dt, self.state)
        self.data.ctrl[self.actuators] = tau
        mujoco.mj_step(self.model, self.data)
        self.time += dt
        return tau

    def run(self, seconds: float, record=None):
        """Step for `seconds`; call `record(self, tau)` after each step if given."""
        for _ in range(int(round(seconds / self.model.opt.timestep))):
            tau = self.step()
            if record is not None:
                record(self, tau)
        self.state = self.robot.read_state()
        return self.state
