#!/usr/bin/env bash
# Create .venv-bench-jax: the JAX/Flax reference learner's own environment (bench only).
# Idempotent: skips the install when the requirements are unchanged.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-bench-jax"
REQ="$ROOT/bench/jax_reference/requirements.txt"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
WANT="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$WANT" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
  "$VENV/bin/python" -c 'import jax, flax, optax; print("jax", jax.__version__, "flax", flax.__version__)'
  echo "$WANT" > "$VENV/.stamp"
fi
echo "$VENV/bin/python"
