"""The serl-ros2 node graph described once, and its launchers."""
