"""
Re-export of ``serl_common.qos`` (the QoS profiles of docs/architecture.md).

Kept only for ``serl_bringup.monitor_node``, which imports it; new code imports
``serl_common.qos``.
"""

from serl_common.qos import LATCHED, RELIABLE, SENSOR, TRANSITIONS

__all__ = ['SENSOR', 'RELIABLE', 'TRANSITIONS', 'LATCHED']
