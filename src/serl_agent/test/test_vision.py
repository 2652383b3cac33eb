"""serl_agent.vision: spatial softmax, pretraining, the encoder file, the features wrapper."""

import gymnasium as gym
import numpy as np
import pytest
from serl_agent.cli.pretrain_encoder import main as pretrain_main
from serl_agent.cli.record_demos import main as record_main
from serl_agent.vision.bc_pretraining import pretrain_by_behaviour_cloning
from serl_agent.vision.image_features import (EncoderFileError, ImageFeatures,
                                              ImageFeaturesWrapper, load_encoders,
                                              save_encoders)
from serl_agent.vision.spatial_autoencoder import (pretrain, spatial_softmax,
                                                   SpatialAutoencoderConfig, SpatialEncoder)
import serl_sim  # noqa: F401
import torch

SMALL = {'input_size': 32, 'channels': (16, 8), 'reconstruction_size': 16, 'batch_size': 32}


def test_spatial_softmax_points_at_the_peak():
    h, w = 5, 9
    maps = torch.zeros(1, 2, h, w)
    maps[0, 0, 1, 6] = 50.0     # row 1, column 6
    maps[0, 1, 4, 0] = 50.0     # bottom-left pixel
    points = spatial_softmax(maps, torch.tensor(1.0))[0]
    xs, ys = np.linspace(-1, 1, w), np.linspace(-1, 1, h)
    np.testing.assert_allclose(points.numpy(), [xs[6], xs[0], ys[1], ys[4]], atol=1e-4)


def square_frames(n, rng, side=32, size=5):
    """Frames of a red square on grey at random positions; returns frames, centres (x, y)."""
    frames = np.full((n, side, side, 3), 110, np.uint8)
    corners = rng.integers(0, side - size, (n, 2))
    for f, (r, c) in zip(frames, corners):
        f[r:r + size, c:c + size] = (230, 20, 20)
    return frames, corners[:, ::-1] + size / 2.0


def linear_fit_r2(train_x, train_y, test_x, test_y):
    a = np.c_[train_x, np.ones(len(train_x))]
    w, *_ = np.linalg.lstsq(a, train_y, rcond=None)
    pred = np.c_[test_x, np.ones(len(test_x))] @ w
    return 1.0 - ((pred - test_y) ** 2).sum(0) / ((test_y - test_y.mean(0)) ** 2).sum(0)


def test_pretrained_feature_points_track_the_moving_object():
    rng = np.random.default_rng(0)
    frames, centres = square_frames(600, rng)
    losses = []
    config = SpatialAutoencoderConfig(steps=400, learning_rate=3e-3, **SMALL)
    encoder = pretrain(frames, config, seed=0, callback=lambda i, m: losses.append(m['loss']))
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert not any(p.requires_grad for p in encoder.parameters())
    test_frames, test_centres = square_frames(200, rng)
    with torch.no_grad():
        train_f = encoder(torch.from_numpy(frames)).numpy()
        test_f = encoder(torch.from_numpy(test_frames)).numpy()
    # a linear fit of the square's x and y on the feature points, on frames never seen
    r2 = linear_fit_r2(train_f, centres, test_f, test_centres)
    assert np.all(r2 > 0.6), r2


def test_behaviour_cloning_pretraining_fits_the_demo_actions():
    rng = np.random.default_rng(0)
    frames, centres = square_frames(400, rng)
    actions = (centres / 16.0 - 1.0).astype(np.float32)   # 'move toward the square'
    proprio = np.zeros((400, 1), np.float32)
    losses = []
    config = SpatialAutoencoderConfig(steps=300, learning_rate=3e-3, **SMALL)
    encoders = pretrain_by_behaviour_cloning(
        {'front': frames}, proprio, actions, config, image_shift=1,
        callback=lambda i, m: losses.append(m['loss']))
    assert np.mean(losses[-20:]) < 0.3 * np.mean(losses[:20]), (losses[:3], losses[-3:])
    assert not any(p.requires_grad for p in encoders['front'].parameters())
    with pytest.raises(ValueError, match="camera 'front'"):
        pretrain_by_behaviour_cloning({'front': frames[:10]}, proprio, actions, config)


def test_pretrain_refuses_bad_frames():
    with pytest.raises(ValueError, match='uint8'):
        pretrain(np.zeros((4, 32, 32, 3), np.float32), SpatialAutoencoderConfig(**SMALL))
    with pytest.raises(ValueError, match='reconstruction_size'):
        SpatialAutoencoderConfig(input_size=32, reconstruction_size=64).validate()


def test_encoder_file_round_trip_and_bad_files(tmp_path):
    torch.manual_seed(0)
    encoders = {'front': SpatialEncoder(SpatialAutoencoderConfig(**SMALL)).eval()}
    path = save_encoders(tmp_path / 'enc.pt', encoders, {'frames': 3})
    images = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 3), np.uint8)
    loaded = ImageFeatures.from_file(path)
    expected = encoders['front'](torch.from_numpy(images)).detach().numpy()
    np.testing.assert_allclose(loaded.encode('front', images), expected, atol=1e-6)
    assert loaded.encode('front', images[0]).shape == (16,)

    with pytest.raises(EncoderFileError, match='does not exist'):
        load_encoders(tmp_path / 'missing.pt')
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(b'not a torch file')
    with pytest.raises(EncoderFileError, match=str(corrupt)):
        load_encoders(corrupt)
    other = tmp_path / 'other.pt'
    torch.save({'format': 'something/else'}, other)
    with pytest.raises(EncoderFileError, match='something/else'):
        load_encoders(other)


def test_a_trajectory_costs_one_encoding_per_frame():
    torch.manual_seed(0)
    features = ImageFeatures({'front': SpatialEncoder(SpatialAutoencoderConfig(**SMALL)).eval()})
    frames = np.random.default_rng(2).integers(0, 256, (6, 48, 48, 3), np.uint8)
    trajectory = [{'observation': {'front': frames[i], 'tcp_pose': np.zeros(7, np.float32)},
                   'next_observation': {'front': frames[i + 1],
                                        'tcp_pose': np.ones(7, np.float32)},
                   'action': np.zeros(4, np.float32)} for i in range(5)]
    out = [features.transition(tr) for tr in trajectory]
    assert features.frames_encoded == 6   # 5 transitions, 6 distinct frames
    expected = features.encode('front', frames)
    for i, tr in enumerate(out):
        np.testing.assert_allclose(tr['observation']['front_features'], expected[i], atol=1e-5)
        np.testing.assert_allclose(tr['next_observation']['front_features'], expected[i + 1],
                                   atol=1e-5)
        assert 'front' not in tr['observation'] and tr['next_observation']['tcp_pose'][0] == 1
    features.transition(trajectory[2])   # out of order: both frames encoded again
    assert features.frames_encoded == 6 + 6 + 2
    with pytest.raises(ValueError, match='next_observation is missing camera'):
        features.transition({'observation': {'front': frames[0]}, 'next_observation': {}})


def test_wrapper_gives_the_agent_features_and_proprioception_only(tmp_path):
    cameras = ('front', 'wrist')
    path = save_encoders(tmp_path / 'enc.pt', {
        c: SpatialEncoder(SpatialAutoencoderConfig(**SMALL)).eval() for c in cameras})
    env = ImageFeaturesWrapper(gym.make('PandaPickCubeVision-v0'), path)
    assert sorted(env.observation_space.spaces) == [
        'front_features', 'gripper_width', 'tcp_pose', 'tcp_vel', 'wrist_features']
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    state_only = gym.make('PandaPickCube-v0')
    with pytest.raises(ValueError, match="no camera 'front'"):
        ImageFeaturesWrapper(state_only, path)
    with pytest.raises(EncoderFileError, match='does not exist'):
        ImageFeaturesWrapper(gym.make('PandaPickCubeVision-v0'), tmp_path / 'none.pt')


def test_pretrain_encoder_command_on_recorded_vision_demos(tmp_path, capsys):
    demos = tmp_path / 'demos'
    assert record_main(['--task', 'PandaPickCubeVision-v0', '--episodes', '1', '--output',
                        str(demos)]) == 0
    out = tmp_path / 'encoder.pt'
    for objective in ('bc', 'reconstruction'):
        assert pretrain_main([str(demos), '--objective', objective, '--output', str(out),
                              '--steps', '3', '--no-progress']) == 0
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert 'front_frames=' in line and 'wrist_frames=' in line
        assert sorted(load_encoders(out)) == ['front', 'wrist']
        assert torch.load(out, weights_only=True)['metadata']['objective'] == objective
    assert pretrain_main([str(demos), '--cameras', 'side', '--output', str(out)]) == 2
    assert "lack ['side']" in capsys.readouterr().err
