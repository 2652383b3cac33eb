"""Running agents without ROS: the learner loop, the episode runner, the actor's policies."""
