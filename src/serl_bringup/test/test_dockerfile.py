"""docker/: the image cannot be built on these machines, so it is linted statically."""

import shutil
import subprocess

from serl_bringup.graph import default_config_dir
import yaml

ROOT = default_config_dir().parent


def test_hadolint_passes():
    hadolint = shutil.which('hadolint')
    assert hadolint, 'hadolint not found: it is installed by requirements/python.txt'
    result = subprocess.run([hadolint, str(ROOT / 'docker' / 'Dockerfile')],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_what_pip_lacks():
    text = (ROOT / 'docker' / 'Dockerfile').read_text()
    assert text.startswith('#') and 'FROM ros:jazzy' in text
    for package in ('launch-ros', 'rosbag2-storage-mcap', 'rviz2', 'robot-state-publisher'):
        assert f'ros-jazzy-{package}' in text


def test_compose_runs_the_sim_launch_file_of_this_repo():
    compose = yaml.safe_load((ROOT / 'docker' / 'compose.yaml').read_text())
    sim = compose['services']['sim']
    assert sim['build']['dockerfile'] == 'docker/Dockerfile'
    launch_file = sim['command'][2]
    assert (ROOT / launch_file).is_file()
