"""Agents: one module per algorithm over the shared networks."""
