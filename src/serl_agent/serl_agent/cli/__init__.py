"""Command-line tools without a ROS graph: serl_train_gym, serl_record_demos."""
