"""QoS profiles of the agent's topics, as docs/architecture.md fixes them (rclpy side)."""

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)

#: Streams (robot state, images): best effort, keep last 5.
SENSOR = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                    reliability=ReliabilityPolicy.BEST_EFFORT,
                    durability=DurabilityPolicy.VOLATILE)
#: Commands, rewards, acknowledgements, status: reliable, keep last 10.
RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
#: /serl/transitions: reliable, keep last 1000.
TRANSITIONS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
#: Latched topics (/serl/policy_weights): reliable, transient local, depth 1.
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)

__all__ = ['SENSOR', 'RELIABLE', 'TRANSITIONS', 'LATCHED', 'qos_profile_sensor_data']
