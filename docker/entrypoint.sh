#!/usr/bin/env bash
# Source the workspace (ROS 2 Jazzy + .venv + install/) and run the given command.
set -e
set +u
# shellcheck source=/dev/null
source /ws/serl-ros2/env.sh
exec "$@"
