"""Build script for the serl_teleop ament_python package."""

from setuptools import find_packages, setup

package_name = 'serl_teleop'

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
    description='Teleoperation for demonstrations: terminal keyboard and SpaceMouse node.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'teleop_node = serl_teleop.teleop_node:main',
        ],
    },
)
