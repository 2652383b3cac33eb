"""Test session setup: DDS stays on this machine, on a domain no other package's tests use."""

import os

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_DOMAIN_ID'] = str(int(os.environ.get('SERL_TEST_DOMAIN_BASE', '50')) + 7)
