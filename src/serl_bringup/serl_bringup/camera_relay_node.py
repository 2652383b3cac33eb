"""
``serl_camera_relay``: a real camera driver's topic -> ``/cameras/<name>/image_raw`` as in sim.

Subscribes to ``input_topic`` (``sensor_msgs/Image`` in rgb8 or bgr8, e.g.
``/camera/camera/color/image_raw`` of ``realsense2_camera``), crops the centre square, resizes it
to ``width`` x ``height`` (:mod:`serl_bringup.camera_crop`) and republishes it as rgb8 on
``/cameras/<name>/image_raw`` with the driver's header (stamp and frame), where the actor and the
reward node read the sim's cameras. Sensor-data QoS both ways. A frame in another encoding is
dropped with a throttled error naming the topic; ``/diagnostics`` counts relayed and dropped
frames. ``serl_launch real front_camera:=<topic> wrist_camera:=<topic>`` starts one per camera.
"""

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import Image
from serl_bringup.camera_crop import crop_and_resize
from serl_common import qos
from serl_common.node_main import run_node
from serl_reward.image_codec import fill_image, image_to_array


class CameraRelayNode(Node):
    """Crop, resize and republish one camera; parameters in the module docstring."""

    def __init__(self):
        super().__init__('camera_relay')
        defaults = {'name': 'front', 'input_topic': '', 'width': 128, 'height': 128}
        for key, value in defaults.items():
            self.declare_parameter(key, value)
        v = {k: self.get_parameter(k).value for k in defaults}
        if not v['input_topic']:
            raise ValueError("parameter input_topic is empty: give the camera driver's image "
                             'topic, e.g. /camera/camera/color/image_raw')
        if v['width'] < 1 or v['height'] < 1:
            raise ValueError(f'parameters width and height must be >= 1, got {v["width"]} and '
                             f'{v["height"]}')
        self.v = v
        self.output_topic = f'/cameras/{v["name"]}/image_raw'
        self.relayed = 0
        self.dropped = 0
        self.pub = self.create_publisher(Image, self.output_topic, qos.SENSOR)
        self.diag = self.create_publisher(DiagnosticArray, '/diagnostics', qos.RELIABLE)
        self.create_subscription(Image, v['input_topic'], self._on_image, qos.SENSOR)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f'{v["input_topic"]} -> {self.output_topic} '
                               f'({v["width"]}x{v["height"]}, centre crop)')

    def _on_image(self, msg: Image) -> None:
        try:
            frame = crop_and_resize(image_to_array(msg, 'rgb8'),
                                    (self.v['height'], self.v['width']))
        except ValueError as exc:
            self.dropped += 1
            self.get_logger().error(f'{self.v["input_topic"]}: frame dropped: {exc}',
                                    throttle_duration_sec=5.0)
            return
        out = fill_image(Image(header=msg.header), frame, 'rgb8')
        self.pub.publish(out)
        self.relayed += 1

    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(name=f'camera_relay: {self.v["name"]}',
                                  hardware_id=self.v['input_topic'])
        status.level = DiagnosticStatus.OK if not self.dropped else DiagnosticStatus.WARN
        status.message = f'{self.relayed} frames relayed, {self.dropped} dropped'
        status.values = [KeyValue(key='relayed', value=str(self.relayed)),
                         KeyValue(key='dropped', value=str(self.dropped))]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag.publish(msg)


def main(args=None) -> int:
    """Run the camera relay (console script ``serl_camera_relay``)."""
    return run_node(CameraRelayNode, args, fatal_errors=(ValueError,))
