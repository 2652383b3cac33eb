"""Build script for the serl_bringup ament_python package."""

from setuptools import find_packages, setup

package_name = 'serl_bringup'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='serl-ros2 maintainers',
    maintainer_email='maintainers@serl-ros2.dev',
    description='The serl-ros2 node graph described once, and its launchers.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'serl_launch = serl_bringup.launcher:main',
            'serl_train = serl_bringup.main_job:main',
            'serl_eval = serl_bringup.eval_job:main',
            'serl_viewer = serl_bringup.viewer_node:main',
            'serl_camera_relay = serl_bringup.camera_relay_node:main',
        ],
    },
)
