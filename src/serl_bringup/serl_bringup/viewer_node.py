"""
``serl_viewer``: a live view of the robot while it learns, in Foxglove, without rviz.

A ROS node that forwards what a person wants to watch to the Foxglove SDK's WebSocket server
(``foxglove-sdk``; open ``ws://<host>:<port>`` in the Foxglove app, "Open connection"):

==============================  ============================================================
Foxglove channel                from
==============================  ============================================================
``/cameras/front``, ``/wrist``  ``/cameras/<name>/image_raw`` (``foxglove.RawImage``)
``/tcp``                        ``/franka_robot_state_broadcaster/current_pose`` (PoseInFrame)
``/target``                     ``/cartesian_impedance_controller/limited_target``
``/safety_box``                 ``/cartesian_impedance_controller/safety_box`` (SceneUpdate)
``/reward``                     ``/reward``: probability and reward (JSON)
``/episode``                    ``/serl/episode_summary``: episode, return, success (JSON)
==============================  ============================================================

Parameters (``config/viewer.yaml``): ``host`` (127.0.0.1: this machine only), ``port``
(8765), ``cameras`` (front, wrist). ``serl_launch sim viz:=true`` and ``serl_train --viz``
start it.
"""

from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image
from serl_common import qos
from serl_common.node_main import run_node
from serl_msgs.msg import EpisodeSummary, RewardStamped
from visualization_msgs.msg import Marker


def _stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class ViewerNode(Node):
    """The viewer; see the module docstring."""

    def __init__(self):
        super().__init__('serl_viewer')
        import foxglove
        from foxglove.channels import PoseInFrameChannel, RawImageChannel, SceneUpdateChannel

        p = {'host': '127.0.0.1', 'port': 8765, 'cameras': ['front', 'wrist']}
        for name, default in p.items():
            self.declare_parameter(name, default)
        v = {name: self.get_parameter(name).value for name in p}
        self.server = foxglove.start_server(name='serl-ros2', host=v['host'], port=v['port'])
        self.images = {c: RawImageChannel(f'/cameras/{c}') for c in v['cameras'] if c}
        self.tcp = PoseInFrameChannel('/tcp')
        self.target = PoseInFrameChannel('/target')
        self.box = SceneUpdateChannel('/safety_box')
        self.reward = foxglove.Channel('/reward', message_encoding='json')
        self.episode = foxglove.Channel('/episode', message_encoding='json')
        for cam in self.images:
            self.create_subscription(Image, f'/cameras/{cam}/image_raw',
                                     lambda m, c=cam: self._on_image(c, m), qos.SENSOR)
        self.create_subscription(PoseStamped, '/franka_robot_state_broadcaster/current_pose',
                                 lambda m: self._on_pose(self.tcp, m), qos.SENSOR)
        self.create_subscription(PoseStamped, '/cartesian_impedance_controller/limited_target',
                                 lambda m: self._on_pose(self.target, m), qos.SENSOR)
        self.create_subscription(Marker, '/cartesian_impedance_controller/safety_box',
                                 self._on_box, qos.LATCHED)
        self.create_subscription(RewardStamped, '/reward', self._on_reward, qos.SENSOR)
        self.create_subscription(EpisodeSummary, '/serl/episode_summary', self._on_episode,
                                 qos.RELIABLE)
        self.get_logger().info(f"Foxglove: open ws://{v['host']}:{self.server.port} in the "
                               'Foxglove app (Open connection)')

    @staticmethod
    def _time(header):
        from foxglove.messages import Timestamp
        return Timestamp(int(header.stamp.sec), int(header.stamp.nanosec))

    def _on_image(self, camera: str, msg: Image) -> None:
        from foxglove.messages import RawImage
        self.images[camera].log(RawImage(
            timestamp=self._time(msg.header), frame_id=msg.header.frame_id or camera,
            width=msg.width, height=msg.height, encoding=msg.encoding, step=msg.step,
            data=bytes(msg.data)), log_time=_stamp_ns(msg.header))

    def _pose(self, pose):
        from foxglove.messages import Pose, Quaternion, Vector3
        return Pose(position=Vector3(x=pose.position.x, y=pose.position.y, z=pose.position.z),
                    orientation=Quaternion(x=pose.orientation.x, y=pose.orientation.y,
                                           z=pose.orientation.z, w=pose.orientation.w))

    def _on_pose(self, channel, msg: PoseStamped) -> None:
        from foxglove.messages import PoseInFrame
        channel.log(PoseInFrame(timestamp=self._time(msg.header),
                                frame_id=msg.header.frame_id or 'fr3_link0',
                                pose=self._pose(msg.pose)), log_time=_stamp_ns(msg.header))

    def _on_box(self, msg: Marker) -> None:
        from foxglove.messages import Color, CubePrimitive, SceneEntity, SceneUpdate, Vector3
        cube = CubePrimitive(pose=self._pose(msg.pose),
                             size=Vector3(x=msg.scale.x, y=msg.scale.y, z=msg.scale.z),
                             color=Color(r=msg.color.r, g=msg.color.g, b=msg.color.b,
                                         a=msg.color.a))
        self.box.log(SceneUpdate(entities=[SceneEntity(
            timestamp=self._time(msg.header), frame_id=msg.header.frame_id or 'fr3_link0',
            id='safety_box', cubes=[cube])]))

    def _on_reward(self, msg: RewardStamped) -> None:
        self.reward.log({'probability': float(msg.probability), 'reward': float(msg.reward)},
                        log_time=_stamp_ns(msg.header))

    def _on_episode(self, msg: EpisodeSummary) -> None:
        self.episode.log({'episode': int(msg.episode), 'steps': int(msg.steps),
                          'return': float(msg.episode_return), 'success': bool(msg.success),
                          'evaluation': bool(msg.evaluation),
                          'intervention_steps': int(msg.intervention_steps)})

    def destroy_node(self):
        """Stop the WebSocket server, then destroy the node."""
        self.server.stop()
        super().destroy_node()


def main(args=None):
    """Run the viewer until Ctrl-C."""
    return run_node(ViewerNode, args)


if __name__ == '__main__':
    main()
