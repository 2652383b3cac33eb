"""
`RobotModel` implemented with MuJoCo: kinematics and dynamics of the arm in a MuJoCo model.

Quantities (MuJoCo documentation, "Computation"): the TCP Jacobian from `mj_jacSite`, the joint
inertia matrix from `mj_fullM` (armature included), and the Coriolis/centrifugal torques as
`qfrc_bias(q, dq) - qfrc_bias(q, 0)`, i.e. the recursive Newton-Euler bias with the gravity part
removed (the FR3 convention: gravity is compensated outside the controller, see
`serl_controller.robot_model`).
"""

from typing import Sequence

import mujoco
import numpy as np

from serl_controller.robot_model import ARM_DOF, RobotState

FR3_JOINT_NAMES = tuple(f'fr3_joint{i}' for i in range(1, ARM_DOF + 1))
FR3_TCP_SITE = 'fr3_hand_tcp'


class MujocoRobotModel:
    """
    Arm model quantities from a MuJoCo `MjModel`, expressed in the arm's base frame.

    The base frame is the parent body of the first arm joint's body (`fr3_link0` for the FR3), so
    the arm may be placed anywhere in the MuJoCo world. All computation happens on a private
    `MjData`; the live `data` is only read, never written.

    Parameters
    ----------
    model : mujoco.MjModel
        The MuJoCo model holding the arm.
    data : mujoco.MjData
        The live data that `read_state()` reads `qpos`/`qvel` from.
    tcp_site : str
        Name of the site at the TCP (`fr3_hand_tcp`).
    joint_names : sequence of str
        The 7 arm joint names (hinge joints), in controller joint order.

    Raises
    ------
        ValueError: if the site or a joint is missing, or a joint is not a hinge/slide joint.

    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData,
                 tcp_site: str = FR3_TCP_SITE,
                 joint_names: Sequence[str] = FR3_JOINT_NAMES) -> None:
        if len(joint_names) != ARM_DOF:
            raise ValueError(f'expected {ARM_DOF} joint names, got {len(joint_names)}')
        self.model = model
        self.data = data
        self._scratch = mujoco.MjData(model)
        self._site_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, tcp_site)
        if self._site_id < 0:
            raise ValueError(f'site {tcp_site!r} not found in the MuJoCo model')
        joint_ids = []
        for name in joint_names:
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            if jid < 0:
                raise ValueError(f'joint {name!r} not found in the MuJoCo model')
            if int(model.jnt_type[jid]) not in (int(mujoco.mjtJoint.mjJNT_HINGE),
                                                int(mujoco.mjtJoint.mjJNT_SLIDE)):
                raise ValueError(f'joint {name!r} is not a 1-DoF (hinge or slide) joint')
            joint_ids.append(jid)
        self.joint_names = tuple(joint_names)
        self.qpos_index = np.array([model.jnt_qposadr[j] for j in joint_ids])
        self.dof_index = np.array([model.jnt_dofadr[j] for j in joint_ids])
        self._base_body = int(model.body_parentid[model.jnt_bodyid[joint_ids[0]]])
        # Contiguous arm dofs (the usual case) are read through slices, which copy less.
        self._contiguous = bool(np.all(np.diff(self.dof_index) == 1)
                                and np.all(np.diff(self.qpos_index) == 1))
        if self._contiguous:
            self._dofs = slice(int(self.dof_index[0]), int(self.dof_index[-1]) + 1)
            self._qpos = slice(int(self.qpos_index[0]), int(self.qpos_index[-1]) + 1)
        else:
            self._dofs, self._qpos = self.dof_index, self.qpos_index
        # A base welded to the world at the origin with identity orientation needs no rotation.
        mujoco.mj_kinematics(model, self._scratch)
        self._base_is_world = bool(
            model.body_weldid[self._base_body] == 0 and model.body_mocapid[self._base_body] < 0
            and np.allclose(self._scratch.xpos[self._base_body], 0.0, atol=0.0)
            and np.allclose(self._scratch.xmat[self._base_body], np.eye(3).ravel(), atol=0.0))
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._full_m = np.zeros((model.nv, model.nv))
        self._bias = np.zeros(model.nv)
        self._gravity = np.zeros(model.nv)
        self._quat_wxyz = np.zeros(4)

    @property
    def base_body_name(self) -> str:
        """Name of the body whose frame the state is expressed in (e.g. `fr3_link0`)."""
        return mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_BODY, self._base_body) or ''

    def read_state(self) -> RobotState:
        """Return the `RobotState` of the live `data` (its current `qpos` and `qvel`)."""
        d = self._scratch
        d.qpos[:] = self.data.qpos
        d.qvel[:] = self.data.qvel
        return self._compute()

    def state(self, q: np.ndarray, dq: np.ndarray) -> RobotState:
        """
        Return the `RobotState` at arm joint positions `q` (7,) rad and velocities `dq` (7,).

        Non-arm degrees of freedom (fingers, free objects) keep the values of the last
        `read_state()` call (the model's `qpos0` and zero velocity before the first one).

        Raises
        ------
            ValueError: if `q` or `dq` does not have shape (7,).

        """
        q = np.asarray(q, dtype=np.float64)
        dq = np.asarray(dq, dtype=np.float64)
        if q.shape != (ARM_DOF,) or dq.shape != (ARM_DOF,):
            raise ValueError(f'q and dq must have shape ({ARM_DOF},), got {q.shape}, {dq.shape}')
        d = self._scratch
        d.qpos[self.qpos_index] = q
        d.qvel[self.dof_index] = dq
        return self._compute()

    def _compute(self) -> RobotState:
        m, d = self.model, self._scratch
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_makeM(m, d)
        mujoco.mj_fullM(m, d, self._full_m)
        # Gravity torques g(q): the RNE bias at zero velocity.
        qvel = d.qvel.copy()
        d.qvel[:] = 0.0
        mujoco.mj_comVel(m, d)
        mujoco.mj_rne(m, d, 0, self._gravity)
        d.qvel[:] = qvel
        mujoco.mj_comVel(m, d)
        mujoco.mj_rne(m, d, 0, self._bias)
        mujoco.mj_jacSite(m, d, self._jacp, self._jacr, self._site_id)

        dofs = self._dofs
        jacobian = np.empty((6, ARM_DOF))
        site_rot = d.site_xmat[self._site_id]
        site_pos = d.site_xpos[self._site_id]
        if self._base_is_world:
            jacobian[:3] = self._jacp[:, dofs]
            jacobian[3:] = self._jacr[:, dofs]
            position = site_pos.copy()
            mujoco.mju_mat2Quat(self._quat_wxyz, site_rot)
        else:
            rot_base_t = d.xmat[self._base_body].reshape(3, 3).T
            np.matmul(rot_base_t, self._jacp[:, dofs], out=jacobian[:3])
            np.matmul(rot_base_t, self._jacr[:, dofs], out=jacobian[3:])
            position = rot_base_t @ (site_pos - d.xpos[self._base_body])
            mujoco.mju_mat2Quat(self._quat_wxyz, (rot_base_t @ site_rot.reshape(3, 3)).ravel())
        w, x, y, z = self._quat_wxyz.tolist()
        return RobotState(
            q=d.qpos[self._qpos].copy(),
            dq=d.qvel[dofs].copy(),
            tcp_position=position,
            tcp_quaternion=np.array([x, y, z, w]),
            jacobian=jacobian,
            mass_matrix=self._full_m[dofs, dofs] if self._contiguous
            else self._full_m[np.ix_(dofs, dofs)],
            coriolis=self._bias[dofs] - self._gravity[dofs],
        )
