"""
serl_agent: agents (SAC, RLPD, AWAC, BC), their data, and the actor and learner on ROS 2.

- ``agents/``: one module per algorithm over ``networks`` (pure torch).
- ``data/``: replay and demo buffers, rosbag2 bags, transition codecs, spools, checkpoints.
- ``runtime/``: the learner loop, the episode runner and the actor's policies (no rclpy).
- ``ros/``: the nodes and ``RosEnv`` (the robot over topics as a Gymnasium env).
- ``cli/``: ``serl_train_gym`` and ``serl_record_demos`` (no ROS graph).
"""
