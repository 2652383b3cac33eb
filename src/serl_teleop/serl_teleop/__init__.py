"""Teleoperation for demonstrations: keyboard (terminal) and SpaceMouse -> TwistStamped + Joy."""
