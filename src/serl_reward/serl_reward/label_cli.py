"""
``serl_label_cli``: a person answers the reward node's label queries at a terminal.

Serves ``/reward/query_label``. For every query it writes the frames as PNG files (one per
camera) under ``--image-dir``, prints their paths and the classifier's probability, and waits
up to ``--timeout`` seconds for y (success), n (failure) or anything else (skip, not answered).

Run: ``serl_label_cli --image-dir /tmp/serl_queries``
"""

import argparse
import os
import select
import sys

import cv2
from rclpy.node import Node
from rclpy.utilities import remove_ros_args
from serl_common.node_main import run_node
from serl_msgs.srv import QueryLabel
from serl_reward.image_codec import image_to_rgb, ImageFormatError
from serl_reward.label_history import parse_answer


class LabelCli(Node):
    """Service node that asks a person on stdin."""

    def __init__(self, image_dir, timeout, **kwargs):
        super().__init__('label_cli', **kwargs)
        self.image_dir = image_dir
        self.timeout = timeout
        self.count = 0
        os.makedirs(image_dir, exist_ok=True)
        self.create_service(QueryLabel, '/reward/query_label', self._answer)
        print(f'serl_label_cli: waiting for queries on /reward/query_label; frames go to '
              f'{image_dir}', flush=True)

    def _answer(self, request, response):
        self.count += 1
        stamp = f'{request.header.stamp.sec}.{request.header.stamp.nanosec:09d}'
        paths = []
        for name, image in zip(request.image_names, request.images):
            try:
                rgb = image_to_rgb(image)
            except ImageFormatError as error:
                print(f'  camera {name}: cannot show frame: {error}', flush=True)
                continue
            path = os.path.join(self.image_dir, f'query_{self.count:04d}_{name}.png')
            cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            paths.append(path)
        print(f'\nquery {self.count}: frames at t={stamp} s, classifier p(success)='
              f'{request.probability:.3f}', flush=True)
        for path in paths:
            print(f'  {path}', flush=True)
        print(f'success? [y/n, anything else skips] ({self.timeout:.0f} s): ', end='',
              flush=True)
        ready, _, _ = select.select([sys.stdin], [], [], self.timeout)
        label = parse_answer(sys.stdin.readline()) if ready else None
        response.answered = label is not None
        response.success = bool(label)
        print('  -> ' + ('skipped' if label is None else 'success' if label else 'failure'),
              flush=True)
        return response


def main(args=None):
    """Run the label CLI."""
    parser = argparse.ArgumentParser(prog='serl_label_cli', description=__doc__.split('\n\n')[1])
    parser.add_argument('--image-dir', default='/tmp/serl_label_queries')
    parser.add_argument('--timeout', type=float, default=30.0,
                        help='seconds to wait for an answer')
    argv = list(sys.argv if args is None else args)
    known = parser.parse_args(remove_ros_args(argv)[1:])
    return run_node(lambda: LabelCli(known.image_dir, known.timeout), argv)


if __name__ == '__main__':
    main()
