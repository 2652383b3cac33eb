"""Image observations: DrQ random shift, shared encoder trained by the critic only."""

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.agents.config import RLPDConfig
from serl_agent.agents.rlpd import RLPDAgent
from serl_agent.data.replay import ReplayBuffer
from serl_agent.networks import ImageEncoder, random_shift
import torch


pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_random_shift_is_a_translation_with_replicated_edges():
    img = torch.arange(10 * 12, dtype=torch.int64).view(1, 10, 12, 1).repeat(64, 1, 1, 3)
    out = random_shift(img.to(torch.uint8), pad=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == img.shape and out.dtype == torch.uint8
    ref = img[0, :, :, 0]
    shifts = set()
    for k in range(64):
        o = out[k, :, :, 0].long()
        # Find the (dy, dx) in [-2, 2]^2 that reproduces o from the edge-padded reference.
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(o, ref[(torch.arange(10) + dy).clamp(0, 9)][
                       :, (torch.arange(12) + dx).clamp(0, 11)] % 256)]
        assert len(matches) == 1
        shifts.add(matches[0])
        assert torch.equal(out[k, :, :, 0], out[k, :, :, 2])  # channels move together
    assert len(shifts) > 15  # offsets are drawn per image
    assert random_shift(img, 0) is img


def test_image_agent_updates_encoder_through_critic_only():
    obs_space = gym.spaces.Dict({
        'tcp_pose': gym.spaces.Box(-1, 1, (7,), np.float32),
        'front': gym.spaces.Box(0, 255, (32, 32, 3), np.uint8)})
    act_space = gym.spaces.Box(-1, 1, (4,), np.float32)
    cfg = RLPDConfig(batch_size=8, num_critics=3, hidden_dims=(16,), utd_ratio=2,
                     encoder_filters=4, encoder_latent_dim=8)
    agent = RLPDAgent(obs_space, act_space, cfg, seed=0)
    buf = ReplayBuffer(obs_space, act_space, 16)
    rng = np.random.default_rng(0)
    for _ in range(10):
        o = {'tcp_pose': rng.uniform(-1, 1, 7),
             'front': rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)}
        buf.insert(o, rng.uniform(-1, 1, 4), 1.0, o, False, False)
    enc_before = [p.clone() for p in agent.encoder.parameters()]
    batch = agent.sample_batch(buf, buf)
    agent.actor_temperature_step(batch)
    for a, b in zip(enc_before, agent.encoder.parameters()):
        assert torch.equal(a, b)  # the actor loss does not train the encoder (DrQ)
    target_before = [p.clone() for p in agent.target_encoder.parameters()]
    metrics = agent.update(buf, buf)
    assert np.isfinite(metrics['critic_loss'])
    assert any(not torch.equal(a, b) for a, b in zip(enc_before, agent.encoder.parameters()))
    assert any(not torch.equal(a, b)
               for a, b in zip(target_before, agent.target_encoder.parameters()))
    assert agent.act(o).shape == (4,)
    assert 'encoder.images.front.convs.0.weight' in agent.policy_state_dict()


def test_too_small_images_are_a_clear_error():
    with pytest.raises(ValueError, match='16x16 pixels is too small'):
        ImageEncoder((16, 16, 3))
