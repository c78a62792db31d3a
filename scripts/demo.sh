#!/usr/bin/env bash
# Set up (first time only) and run the main job on the bundled sample calls.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/wocas run samples/manifest.csv --out "${1:-out/samples}"
