"""Build script for the serl_agent ament_python package."""

from setuptools import find_packages, setup

package_name = 'serl_agent'

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
    description='RLPD learner and actor: core, nodes, demos from rosbag2.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'actor_node = serl_agent.ros.actor_node:main',
            'learner_node = serl_agent.ros.learner_node:main',
            'demo_recorder = serl_agent.ros.demo_recorder_node:main',
            'serl_record_demos = serl_agent.cli.record_demos:main',
            'serl_train_gym = serl_agent.cli.train_gym:main',
            'serl_pretrain_encoder = serl_agent.cli.pretrain_encoder:main',
        ],
    },
)
