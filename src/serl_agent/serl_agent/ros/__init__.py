"""The ROS side: actor, learner and demo recorder nodes, and the robot as a Gymnasium env."""
