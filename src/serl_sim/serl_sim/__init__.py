"""MuJoCo Franka FR3 tasks as Gymnasium envs and a sim node that mirrors the real robot."""
