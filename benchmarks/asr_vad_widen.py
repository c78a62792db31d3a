"""Widened VAD regions against silero's own, per ASR profile, in one run.

    .venv/bin/python -m benchmarks.asr_vad_widen [--profiles fast,accurate]

Each (profile, ``[asr] vad_widen``) pair is one ``benchmarks.asr_profiles`` worker process over the
same sets (LJ Speech, JFK, RAVDESS with its strong / normal split, the pyannote sample, the demo
calls, their 8 kHz mu-law copies and RAVDESS through a telephone line). Writes
benchmarks/results/asr_vad_widen.{json,md}: WER per set and variant, the change, empty transcripts,
and the ASR seconds.

Adoption rule, written before the first run: ``vad_widen = true`` stays the default if, for the
``fast`` profile, RAVDESS strong-intensity WER does not rise, no set's WER rises by more than 0.5
points, and no transcript is empty. RAVDESS is where the lost onset was found (actor 04, one clip),
so its figures are not independent; the other sets are the regression check.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = ("ljspeech", "jfk", "ravdess", "pyannote_sample", "samples", "ljspeech_ulaw8k", "jfk_ulaw8k",
        "pyannote_sample_ulaw8k", "ravdess_ulaw8k", "ravdess_line")


def run(profile: str, widen: bool, data: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.asr_profiles", "--worker", profile, "--data", str(data),
                          "--sets", ",".join(SETS), "--asr", json.dumps({"vad_widen": widen})],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from benchmarks.common import DEFAULT_DATA, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--profiles", default="fast,accurate")
    args = parser.parse_args()
    results, rows = {}, []
    for profile in args.profiles.split(","):
        got = {widen: run(profile, widen, args.data) for widen in (False, True)}
        results[profile] = {"silero": got[False], "widened": got[True]}
        for name, before in got[False]["sets"].items():
            after = got[True]["sets"][name]
            rows.append({"profile": profile, "set": name, "files": before["files"],
                         "WER silero": before["wer"], "WER widened": after["wer"],
                         "change (points)": round(100 * (after["wer"] - before["wer"]), 2),
                         "strong / normal, silero": _intensity(before), "strong / normal, widened": _intensity(after),
                         "empty (silero / widened)": f"{len(before['empty'])} / {len(after['empty'])}",
                         "ASR s (silero / widened)": f"{before['seconds']} / {after['seconds']}"})
            print(rows[-1], flush=True)
    write_results("asr_vad_widen", {"profiles": results}, rows,
                  "ASR: silero's speech regions against the widened ones",
                  "One worker process per profile and variant (benchmarks/asr_profiles.py's transcribe stage, CPU, "
                  "int8, beam 5), same sets, same run. Widened: engine/stages/asr_speech.py. " + __doc__.split("\n\n")[3]
                  .replace("\n", " "))


def _intensity(result: dict) -> str:
    if "wer_strong" not in result:
        return ""
    return f"{result['wer_strong']:.3f} / {result['wer_normal']:.3f}"


if __name__ == "__main__":
    main()
