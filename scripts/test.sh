#!/usr/bin/env bash
# Set up (first time only) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
WOCAS_EXTRAS=dev,pyannote,ray scripts/setup.sh  # the pyannote backend's and the Ray runner's tests run too
exec .venv/bin/python -m pytest -q "$@"
