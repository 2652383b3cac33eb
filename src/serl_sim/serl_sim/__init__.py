"""
MuJoCo Franka FR3 tasks as Gymnasium envs and a sim node that mirrors the real robot.

``import serl_sim`` registers ``PandaPickCube-v0``, ``PandaPickCubeVision-v0``,
``PandaPegInsert-v0``, ``PandaBinRelocation-v0`` and ``PandaBinRelocationVision-v0``
(cheap: no MuJoCo model is built and no ROS is imported until ``gymnasium.make``).
"""

from gymnasium.envs.registration import register, registry

#: Env id -> entry point; every env runs 10 Hz actions for at most 100 steps.
ENVS = {
    'PandaPickCube-v0': 'serl_sim.envs.pick_cube:PandaPickCubeEnv',
    'PandaPickCubeVision-v0': 'serl_sim.envs.pick_cube:PandaPickCubeVisionEnv',
    'PandaPegInsert-v0': 'serl_sim.envs.peg_insert:PandaPegInsertEnv',
    'PandaBinRelocation-v0': 'serl_sim.envs.bin_relocation:PandaBinRelocationEnv',
    'PandaBinRelocationVision-v0': 'serl_sim.envs.bin_relocation:PandaBinRelocationVisionEnv',
}
MAX_EPISODE_STEPS = 100

for _env_id, _entry_point in ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry_point, max_episode_steps=MAX_EPISODE_STEPS)
