"""Labelled frames from real rosbag2 Transition bags, and the serl_train_reward command."""

from bag_helpers import write_transition_bag
import numpy as np
import pytest
from serl_reward.bag_frames import BagReadError, read_labelled_frames
from serl_reward.dataset import save_npz
from serl_reward.model_file import load_model
from serl_reward.train_classifier import main as train_main
from synthetic import make_frames


def test_read_labelled_frames_from_bag(tmp_path):
    data = make_frames(30, size=16, seed=0, episode_length=10)
    write_transition_bag(str(tmp_path / 'demo'), data, encoding='bgr8')
    frames = read_labelled_frames([str(tmp_path)], ('front', 'wrist'), (16, 16))
    assert len(frames) == 30
    assert np.array_equal(frames.labels, data.labels)
    assert np.array_equal(frames.images['front'], data.images['front'])  # bgr8 -> RGB
    assert len(np.unique(frames.episodes)) == 3


def test_bad_bags_name_the_problem(tmp_path):
    with pytest.raises(BagReadError, match='absent'):
        read_labelled_frames([str(tmp_path / 'absent')], ('front',))
    data = make_frames(4, size=16, seed=0)
    write_transition_bag(str(tmp_path / 'demo'), data)
    with pytest.raises(BagReadError, match="demo.*no image 'side'"):
        read_labelled_frames([str(tmp_path / 'demo')], ('side',))
    with pytest.raises(BagReadError, match='demo.*expected 32x32'):
        read_labelled_frames([str(tmp_path / 'demo')], ('front',), (32, 32))
    corrupt = tmp_path / 'corrupt'
    corrupt.mkdir()
    (corrupt / 'metadata.yaml').write_text('rosbag2_bagfile_information: {version: 9')
    with pytest.raises(BagReadError, match='corrupt.*cannot read bag'):
        read_labelled_frames([str(corrupt)], ('front',))


def test_train_command_reads_bags_and_labels(tmp_path, capsys):
    write_transition_bag(str(tmp_path / 'bags' / 'a'), make_frames(200, size=32, seed=1))
    write_transition_bag(str(tmp_path / 'bags' / 'b'), make_frames(200, size=32, seed=2))
    save_npz(str(tmp_path / 'queries.npz'), make_frames(40, size=32, seed=3))
    model = str(tmp_path / 'model.pt')
    status = train_main([str(tmp_path / 'bags'), '--labels', str(tmp_path / 'queries.npz'),
                         '--output', model, '--image-size', '32', '32', '--steps', '250',
                         '--batch-size', '32', '--learning-rate', '1e-3', '--target-fpr',
                         '0.02', '--min-threshold', '0.6', '--threads', '1'])
    out = capsys.readouterr().out
    assert status == 0, out
    assert 'data: 440 frames' in out
    assert 'precision=' in out and 'recall=' in out and 'fpr=' in out and 'threshold=' in out
    classifier, metrics = load_model(model)
    assert metrics['fpr'] <= 0.02 and metrics['accuracy'] >= 0.9, metrics
    assert classifier.threshold == metrics['threshold'] >= 0.6 == metrics['min_threshold']


def test_train_command_rejects_bad_input(tmp_path, capsys):
    status = train_main([str(tmp_path / 'nothing'), '--output', str(tmp_path / 'm.pt')])
    assert status == 2
    assert 'nothing' in capsys.readouterr().err


def test_train_command_rejects_a_threshold_floor_outside_0_1(tmp_path, capsys):
    write_transition_bag(str(tmp_path / 'a'), make_frames(20, size=32, seed=1))
    status = train_main([str(tmp_path / 'a'), '--output', str(tmp_path / 'm.pt'),
                         '--min-threshold', '1.2'])
    assert status == 2
    assert '--min-threshold must be in [0, 1), got 1.2' in capsys.readouterr().err
    assert not (tmp_path / 'm.pt').exists()
    assert not (tmp_path / 'm.pt').exists()
