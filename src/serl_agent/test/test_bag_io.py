"""rosbag2 bags of serl_msgs/Transition: round trips, crash-safe episode recording, errors."""

from agent_fixtures import assert_transition_equal, make_episode
import numpy as np
import pytest
from rosbags.rosbag2 import Reader
from serl_agent.data.bag_io import (BagError, EpisodeBagWriter, find_bags, make_typestore,
                                    read_transitions, TRANSITION_TOPIC, TRANSITION_TYPE,
                                    write_transitions)
from serl_agent.data.demo_buffer import read_episodes
from serl_agent.data.transition_codec import dict_to_transition, rosbags_types, transition_to_dict
import yaml


def _write(path, transitions, storage):
    types = rosbags_types(make_typestore())
    return write_transitions(path, [(t['stamp_ns'], dict_to_transition(t, types))
                                    for t in transitions], storage=storage)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_round_trip(tmp_path, storage):
    eps = make_episode(np.random.default_rng(0), 'a', 0, 4, images=True) + \
        make_episode(np.random.default_rng(1), 'a', 1, 3, first_sequence=5, success=False)
    assert _write(tmp_path / 'bag', eps, storage) == 7
    got = list(read_transitions(tmp_path / 'bag'))
    assert [m.timestamp_ns for m in got] == [t['stamp_ns'] for t in eps]
    for m, want in zip(got, eps):
        assert_transition_equal(transition_to_dict(m.msg), want)
    # standard metadata: what ros2 bag info / play expects
    with Reader(tmp_path / 'bag') as reader:
        (conn,) = reader.connections
        assert (conn.topic, conn.msgtype) == (TRANSITION_TOPIC, TRANSITION_TYPE)
        assert conn.digest == make_typestore().hash_rihs01(TRANSITION_TYPE)
    assert f'storage_identifier: {storage}' in (tmp_path / 'bag' / 'metadata.yaml').read_text()
    episodes = read_episodes(tmp_path / 'bag')
    assert [(e.episode, len(e.transitions), e.success, e.complete) for e in episodes] == \
        [(0, 4, True, True), (1, 3, False, True)]


def test_type_hash_equals_rosidl(tmp_path):
    """The hash written is the one rosidl generated for the installed serl_msgs."""
    import json
    from serl_agent.data.bag_io import serl_msg_dir
    desc = json.loads((serl_msg_dir() / 'Transition.json').read_text())
    (entry,) = [h for h in desc['type_hashes'] if h['type_name'] == TRANSITION_TYPE]
    assert entry['hash_string'] == make_typestore().hash_rihs01(TRANSITION_TYPE)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_corrupt_bag_names_file(tmp_path, storage):
    eps = make_episode(np.random.default_rng(0), steps=6, images=True)
    _write(tmp_path / 'bag', eps, storage)
    (data_file,) = [f for f in (tmp_path / 'bag').iterdir() if f.suffix in ('.mcap', '.db3')]
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) // 3: len(raw) // 3 + 4096] = b'\xa5' * 4096
    data_file.write_bytes(bytes(raw[: 2 * len(raw) // 3]))
    with pytest.raises(BagError, match=str(tmp_path / 'bag')):
        list(read_transitions(tmp_path / 'bag'))


def test_missing_and_empty(tmp_path):
    with pytest.raises(BagError, match='no such bag'):
        find_bags(tmp_path / 'nope')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BagError, match='no rosbag2 bag'):
        find_bags(tmp_path / 'empty')
    _write(tmp_path / 'bag', make_episode(np.random.default_rng(0), steps=1), 'mcap')
    (tmp_path / 'bag' / 'metadata.yaml').write_text('rosbag2_bagfile_information: [oops')
    with pytest.raises(BagError, match='metadata'):
        list(read_transitions(tmp_path / 'bag'))


def test_episode_writer_crash_keeps_completed(tmp_path):
    """A writer that dies mid-episode leaves every finished episode readable."""
    store = make_typestore()
    types = rosbags_types(store)
    rng = np.random.default_rng(0)
    done = make_episode(rng, 'a', 0, 3) + make_episode(rng, 'a', 1, 2, first_sequence=4)
    running = make_episode(rng, 'a', 2, 4, first_sequence=6)
    writer = EpisodeBagWriter(tmp_path / 'rec', typestore=store)
    for t in done + running[:2]:
        writer.write(dict_to_transition(t, types), t['stamp_ns'])
    del writer  # crash: never closed
    bags = find_bags(tmp_path / 'rec')
    assert [b.name for b in bags] == ['a_ep000000', 'a_ep000001']
    got = [transition_to_dict(m.msg) for m in read_transitions(tmp_path / 'rec')]
    assert [g['sequence'] for g in got] == [1, 2, 3, 4, 5]
    # a clean close finalises the running episode, marked incomplete
    writer = EpisodeBagWriter(tmp_path / 'rec2', typestore=store)
    for t in running[:2]:
        writer.write(dict_to_transition(t, types), t['stamp_ns'])
    assert [p.name for p in writer.close()] == ['a_ep000002_incomplete']
    (ep,) = read_episodes(tmp_path / 'rec2')
    assert not ep.complete and len(ep.transitions) == 2


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_finished_bags_are_named_as_ros2_bag_record_names_them(tmp_path, storage):
    """<name>/metadata.yaml and <name>/<name>_0.<ext>: no hidden or 'partial' file left."""
    store = make_typestore()
    types = rosbags_types(store)
    with EpisodeBagWriter(tmp_path / 'rec', storage=storage, typestore=store) as writer:
        for t in make_episode(np.random.default_rng(0), 'a', 0, 3):
            writer.write(dict_to_transition(t, types), t['stamp_ns'])
    bag = tmp_path / 'rec' / 'a_ep000000'
    ext = '.mcap' if storage == 'mcap' else '.db3'
    assert sorted(p.name for p in bag.iterdir()) == ['a_ep000000_0' + ext, 'metadata.yaml']
    assert [p.name for p in (tmp_path / 'rec').iterdir()] == ['a_ep000000']
    info = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['relative_file_paths'] == ['a_ep000000_0' + ext]
    assert [f['path'] for f in info['files']] == ['a_ep000000_0' + ext]
    assert [m.msg.sequence for m in read_transitions(bag)] == [1, 2, 3]


def test_episode_writer_closes_an_aborted_episode_once(tmp_path):
    """An episode without an end is closed when the next starts; late re-sends add no bag."""
    store = make_typestore()
    types = rosbags_types(store)
    rng = np.random.default_rng(1)
    aborted = make_episode(rng, 'a', 0, 5)[:4]  # sequences 1-4, no terminal transition
    nxt = make_episode(rng, 'a', 1, 3, first_sequence=5)
    writer = EpisodeBagWriter(tmp_path / 'rec', typestore=store)

    def write(items):
        return [writer.write(dict_to_transition(t, types), t['stamp_ns']) for t in items]

    write([aborted[0], aborted[1], aborted[3]])  # sequence 3 lost on the way
    assert writer.open_episodes('a') == [0] and writer.durable_sequence('a') == 0
    write(nxt[:1])  # episode 1 starts: episode 0 was aborted
    assert [p.name for p in writer.completed] == ['a_ep000000_incomplete']
    assert writer.open_episodes('a') == [1]
    assert writer.durable_sequence('a') == 2  # up to the lost sequence 3
    assert write(nxt[1:])[-1].name == 'a_ep000001'
    assert write(aborted + nxt) == [None] * 7  # re-sent: the lost one is late, others dupes
    assert (writer.late, writer.duplicates) == (1, 6)
    assert writer.durable_sequence('a') == 7
    assert [p.name for p in writer.close()] == ['a_ep000000_incomplete', 'a_ep000001']
    episodes = read_episodes(tmp_path / 'rec')
    assert [(e.episode, len(e.transitions), e.complete)
            for e in episodes] == [(0, 3, False), (1, 3, True)]
