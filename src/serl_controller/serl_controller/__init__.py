"""Cartesian impedance controller with SERL reference limiting and its node."""
