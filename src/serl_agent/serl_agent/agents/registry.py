"""
The agents by name: ``make_agent('rlpd', ...)``, and their configs from YAML.

=======  ==============================================  ===========================
name     agent                                           defaults
=======  ==============================================  ===========================
sac      ``SACAgent`` (Haarnoja et al. 2018)             ``config/agent_sac.yaml``
rlpd     ``RLPDAgent`` (Ball et al. 2023)                ``config/agent.yaml``
awac     ``AWACAgent`` (Nair et al. 2020)                ``config/agent_awac.yaml``
bc       ``BCAgent`` (behaviour cloning)                 ``config/agent_bc.yaml``
=======  ==============================================  ===========================
"""

from typing import Optional

import gymnasium as gym
from serl_agent.agents.awac import AWACAgent
from serl_agent.agents.base import Agent
from serl_agent.agents.bc import BCAgent
from serl_agent.agents.config import AgentConfig, config_class
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.agents.sac import SACAgent

AGENTS = {a.name: a for a in (SACAgent, RLPDAgent, AWACAgent, BCAgent)}
# Each agent's defaults file under the repository's config/ (rlpd keeps its historic name).
CONFIG_FILES = {'sac': 'agent_sac.yaml', 'rlpd': 'agent.yaml', 'awac': 'agent_awac.yaml',
                'bc': 'agent_bc.yaml'}


def agent_class(name: str):
    """Return the agent class called ``name``; ``ValueError`` naming the known agents."""
    try:
        return AGENTS[name]
    except KeyError:
        raise ValueError(f'unknown agent {name!r}; known: {sorted(AGENTS)}') from None


def make_agent(name: str, observation_space: gym.Space, action_space: gym.spaces.Box,
               config: Optional[AgentConfig] = None, device='cpu',
               seed: Optional[int] = None) -> Agent:
    """
    Build agent ``name`` (``AGENTS``) with ``config`` (its config class's defaults if None).

    Raises ``ValueError`` for an unknown name or a config of another agent's class.
    """
    return agent_class(name)(observation_space, action_space, config, device=device, seed=seed)


def load_config(name: str, path=None, **overrides) -> AgentConfig:
    """
    Agent ``name``'s config: the ``name:`` section of the YAML ``path``, or the defaults.

    ``overrides`` replace values. Raises ``ValueError`` naming the file, a missing section or
    an unknown key.
    """
    cls = config_class(name)
    if path:
        return cls.from_yaml(path, **overrides)
    try:
        return cls.from_dict(overrides)
    except (TypeError, ValueError) as e:
        raise ValueError(f'{name} settings: {e}') from e
