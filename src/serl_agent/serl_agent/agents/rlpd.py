"""
RLPD agent (Ball et al. 2023, arXiv 2302.02948, Algorithm 1).

RLPD is SAC (``serl_agent.agents.sac``) with three design choices, all in ``RLPDConfig``:
symmetric sampling (every batch exactly N/2 online + N/2 prior data, Sec. 3), LayerNorm in the
critics against over-extrapolation (Sec. 4.2), and a large critic ensemble of E = 10 with a
random subset of Z = 2 in the target at a high update-to-data ratio G = 20 (Sec. 4.3, Table 1).
No offline pretraining: the prior data is only ever half of each online batch.
"""

from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.sac import SACAgent


class RLPDAgent(SACAgent):
    """SAC run with ``RLPDConfig`` (Table 1 defaults); see ``SACAgent`` for the arguments."""

    name = 'rlpd'
    config_class = RLPDConfig
