"""Build script for the serl_sim ament_python package."""

from setuptools import find_packages, setup

package_name = 'serl_sim'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/models',
         ['serl_sim/models/fr3.xml', 'serl_sim/models/fr3.urdf',
          'serl_sim/models/fr3_sim.urdf']),
        ('share/' + package_name + '/config', ['../../config/sim.yaml']),
    ],
    package_data={package_name: ['models/*.xml', 'models/*.urdf']},
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='serl-ros2 maintainers',
    maintainer_email='maintainers@serl-ros2.dev',
    description='MuJoCo Franka FR3 tasks as Gymnasium envs and a sim node mirroring the robot.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'sim_node = serl_sim.sim_node:main',
        ],
    },
)
