"""Agents: one module per algorithm (SAC, RLPD, AWAC, BC) over the shared networks."""
