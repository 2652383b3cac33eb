"""Build script for the serl_reward ament_python package."""

from setuptools import find_packages, setup

package_name = 'serl_reward'

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
    description='Reward from camera images: success classifier, VICE, active queries; node.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'reward_node = serl_reward.reward_node:main',
            'serl_train_reward = serl_reward.train_classifier:main',
            'label_server_node = serl_reward.label_server_node:main',
            'serl_label_cli = serl_reward.label_cli:main',
        ],
    },
)
