"""Test session setup: DDS stays on this machine, on a domain no other package's tests use."""

import os

import pytest

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_DOMAIN_ID'] = str(int(os.environ.get('SERL_TEST_DOMAIN_BASE', '50')) + 4)


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one thread avoids thread-pool overhead on a busy CI machine."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
