"""Data without ROS: replay buffers, demo bags, transition codecs, spools, checkpoints."""
