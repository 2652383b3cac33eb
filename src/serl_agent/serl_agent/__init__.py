"""RLPD learner and actor: core, nodes, demos from rosbag2."""
