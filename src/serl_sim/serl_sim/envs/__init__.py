"""Gymnasium envs of the simulated FR3 (registered by ``import serl_sim``)."""
