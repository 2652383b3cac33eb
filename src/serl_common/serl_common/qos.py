"""
QoS profiles of the serl topics, one per row kind of docs/architecture.md's QoS column.

The names are the column's words: ``sensor`` streams, ``reliable`` messages, the ``reliable,
keep last 1000`` transitions and ``latched`` topics. Every node takes its profiles from here so
publisher and subscriber always match.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

#: Streams (joint states, poses, wrenches, images, camera info, /clock, limited target): best
#: effort, keep last 5, volatile; equal to rclpy's ``qos_profile_sensor_data``.
SENSOR = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                    reliability=ReliabilityPolicy.BEST_EFFORT,
                    durability=DurabilityPolicy.VOLATILE)
#: Commands and every message that must arrive (rewards, acknowledgements, status, episode
#: summaries, /diagnostics): reliable, keep last 10, volatile.
RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
#: /serl/transitions (actor -> learner, demo recorder): reliable, keep last 1000, volatile, so a
#: learner busy with an update does not drop the actor's burst.
TRANSITIONS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
#: Latched topics (/robot_description, /serl/policy_weights): reliable, transient local, keep
#: last 1, so a late subscriber gets the last message.
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)

__all__ = ['SENSOR', 'RELIABLE', 'TRANSITIONS', 'LATCHED']
