"""Clean speech against the telephone line: how much of the telephone benchmark's WER is the
synthetic espeak-ng voice and how much is the line (300-3400 Hz, 8 kHz, G.711 mu-law, noise).

Both renders of benchmarks/telephone.py hold the same turns, voices, speeds, levels and timing;
`clean` is that speech at 16 kHz, full band, with no noise and no codec. Each (line, profile,
variant) runs in its own process through benchmarks.telephone's worker (transcribe stage only,
CPU, int8), one after the other. A variant is AsrConfig fields set on top of the profile
(`--variant name='{"field": value}'`); `default` is the profile as shipped. Every worker's
raw output (hypotheses, stereo words with their times) is kept in --raw, and a run found there is
not run again; the error analysis (benchmarks/telephone_errors.py) reads them.

    python -m benchmarks.telephone_lines [--profiles fast,accurate] [--lines telephone,clean]
        [--channels stereo] [--splits dev,heldout] [--variant NAME=JSON ...] [--raw DIR] [--write]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT


def raw_name(line: str, profile: str, variant: str, channels: str, splits: str) -> str:
    return f"{line}-{profile}-{variant}-{channels.replace(',', '+')}-{splits.replace(',', '+')}.json"


def run_one(line: str, profile: str, variant: str, asr: dict, channels: str, splits: str, raw: Path) -> dict:
    path = raw / raw_name(line, profile, variant, channels, splits)
    if path.exists():
        return json.loads(path.read_text())
    from benchmarks import telephone

    folder = telephone.render_all(line=line)
    cmd = [sys.executable, "-m", "benchmarks.telephone", "--worker", profile, "--cache", str(folder), "--line", line,
           "--channels", channels, "--splits", splits, "--asr", json.dumps(asr)]
    started = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    sys.stderr.write(done.stderr[-800:])
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out.update(line=line, profile=profile, variant=variant, channels=channels, splits=splits,
               wall_s=round(time.time() - started, 1))
    raw.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="fast,accurate")
    parser.add_argument("--lines", default="telephone,clean")
    parser.add_argument("--channels", default="stereo")
    parser.add_argument("--splits", default="dev,heldout")
    parser.add_argument("--variant", action="append", default=[], help="NAME=JSON of AsrConfig fields")
    parser.add_argument("--raw", type=Path, default=Path("/tmp/wocas-telephone-lines"))
    args = parser.parse_args()
    variants = {"default": {}}
    for item in args.variant:
        name, _, blob = item.partition("=")
        variants[name] = json.loads(blob)
    for line in args.lines.split(","):
        for profile in args.profiles.split(","):
            for variant, asr in variants.items():
                r = run_one(line, profile, variant, asr, args.channels, args.splits, args.raw)
                summary = {k: v for k, v in r.items() if k.startswith(("wer_", "x_real", "error", "der_stereo_c0.25"))}
                print(line, profile, variant, json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
