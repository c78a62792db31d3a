#!/usr/bin/env bash
# Creates .venv (if missing or stale) and installs torch (CPU build, pinned) first, then the
# project with pinned versions and the extras in $WOCAS_EXTRAS (default "dev"; the tests add
# "pyannote"). Idempotent: a second run with nothing changed takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
STAMP=.venv/.wocas-installed
EXTRAS=${WOCAS_EXTRAS:-dev}
HASH=$( (cat pyproject.toml scripts/setup.sh; echo "$EXTRAS") | sha256sum | cut -c1-16)
if [[ -f $STAMP && "$(cat $STAMP)" == "$HASH" ]]; then exit 0; fi
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 'setuptools<82' wheel
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[$EXTRAS]"
echo "$HASH" > $STAMP
