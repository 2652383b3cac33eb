"""Write small real rosbag2 (MCAP) bags of serl_msgs/Transition for the tests."""

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from serl_reward.bag_frames import TRANSITION_TOPIC
from serl_reward.image_codec import fill_image
from serl_reward.typestore import make_typestore, TRANSITION_TYPE


def write_transition_bag(path, dataset, actor_id='actor', encoding='rgb8'):
    """Write ``dataset`` (FrameDataset) as one Transition per frame: next_observation images."""
    store = make_typestore()
    t = store.types
    stamp = t['builtin_interfaces/msg/Time']
    header = t['std_msgs/msg/Header']
    image_type = t['sensor_msgs/msg/Image']

    def observation(frames):
        images = []
        for key in frames:
            pixels = frames[key][:, :, ::-1].copy() if encoding == 'bgr8' else frames[key]
            msg = image_type(header=header(stamp=stamp(sec=0, nanosec=0), frame_id=key),
                             height=0, width=0, encoding='', is_bigendian=0, step=0,
                             data=np.zeros(0, np.uint8))
            images.append(fill_image(msg, pixels, encoding))
        return t['serl_msgs/msg/Observation'](state=[], image_names=list(frames), images=images)

    keys = list(dataset.images)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection(TRANSITION_TOPIC, TRANSITION_TYPE, typestore=store)
        steps = {}
        for i in range(len(dataset)):
            episode = int(dataset.episodes[i])
            step = steps.get(episode, 0)
            steps[episode] = step + 1
            frames = {k: dataset.images[k][i] for k in keys}
            msg = t['serl_msgs/msg/Transition'](
                header=header(stamp=stamp(sec=i, nanosec=0), frame_id=''), actor_id=actor_id,
                sequence=i + 1, episode=episode, step=step, observation=observation(frames),
                action=np.zeros(4, np.float32), reward=float(dataset.labels[i]),
                terminated=False, truncated=False, success=bool(dataset.labels[i]),
                intervention=True, next_observation=observation(frames))
            writer.write(connection, i * 100_000_000, store.serialize_cdr(msg, TRANSITION_TYPE))
