#!/usr/bin/env bash
# The main job (make train): scripted demos -> reward classifier -> RLPD through the ROS 2 graph.
# Arguments are passed to serl_train (serl_train --help), e.g.
#   bash scripts/train.sh --run-dir runs/seed1 --seed 1
# or through make: make train ARGS="--seed 1 --run-dir runs/seed1"
# Ctrl-C stops it; the same command resumes the run.
set -euo pipefail
cd "$(dirname "$0")/.."
set +u
# shellcheck source=/dev/null
source env.sh
set -u
export MUJOCO_GL="${MUJOCO_GL:-egl}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
exec serl_train "$@"
