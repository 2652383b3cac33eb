"""Build script for the serl_common ament_python package."""

from setuptools import find_packages, setup

package_name = 'serl_common'

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
    description='QoS profiles of the topic contract and the node main() helper.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
)
