"""Issue 18's DER and PII figures in one run, one table: the existing suites, run one after the
other, their results gathered.

    .venv/bin/python -m benchmarks.speech_figures [--data DIR] [--only diarization,speaker_count,...]

Runs, each as ``python -m benchmarks.X`` into a temporary results folder (the committed
per-suite results are left as they are):
- ``diarization --no-asr``: the embedded diarizer on every RTTM set (pyannote AMI debug, the
  pyannote telephone sample, the synthetic stereo dialogue), count estimated and true;
- ``speaker_count``: DER with the estimated against the true count on AMI, recordings built with
  3-4 voices (clean and through a telephone line) and the two-party calls, tune and held-out;
- ``stereo_timeline``: stereo calls built from LJ Speech, RAVDESS and pyAudioAnalysis voices
  (clean, crosstalk, echo, 8 kHz mu-law), DER of the per-channel speech timeline;
- ``pii``: recall and precision per PII type.
Writes benchmarks/results/speech_figures.json and .md (every part's whole result under its
name, and the headline rows).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, ROOT, write_results

PARTS = {  # name -> (module arguments, result file)
    "diarization": (["benchmarks.diarization", "--no-asr", "--reps", "1"], "diarization"),
    "speaker_count": (["benchmarks.speaker_count"], "speaker_count"),
    "stereo_timeline": (["benchmarks.stereo_timeline"], "stereo_timeline"),
    "pii": (["benchmarks.pii"], "pii"),
}


def run_part(name: str, data: Path, out: Path) -> dict:
    args, result = PARTS[name]
    cmd = [sys.executable, "-m", *args, "--data", str(data)]
    if name == "pii":
        cmd += ["--out", str(out)]
    if name == "stereo_timeline":
        cmd += ["--work", str(out / "stereo_calls")]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "WOCAS_RESULTS_DIR": str(out)},
                          capture_output=True, text=True)
    wall = round(time.perf_counter() - start, 1)
    path = out / f"{result}.json"
    if done.returncode != 0 or not path.exists():
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1], "wall_s": wall}
    return {**json.loads(path.read_text()), "wall_s": wall}


def _der_rows(parts: dict) -> list[dict]:
    rows = []

    def row(data: str, source: str, est, true, note: str = "") -> None:
        rows.append({"set": data, "source": source, "DER est. count (c0.25)": est, "DER true count (c0.25)": true,
                     "est - true": round(est - true, 3) if isinstance(est, float) and isinstance(true, float) else None,
                     "note": note})

    diar = parts.get("diarization", {})
    totals = {t["file"]: t for t in diar.get("totals", [])}
    for data, label in (("calls_synthetic", "stereo call (synthetic dialogue), embedded diarizer"),
                        ("pyannote_sample", "mono two-party (pyannote telephone sample)"),
                        ("pyannote_ami_debug", "AMI debug excerpts (1-4 speakers)")):
        est, true = totals.get(f"TOTAL {data}"), totals.get(f"TOTAL {data}/true-count")
        if est or true:
            row(label, "diarization", (est or {}).get("der_c0.25"), (true or {}).get("der_c0.25"))
    count = parts.get("speaker_count", {})
    chosen = count.get("chosen")
    for key, scores in count.get("pooled", {}).items():
        row(f"{key} (mono)", "speaker_count", scores.get(chosen), scores.get("true"), f"count method {chosen}")
    stereo = parts.get("stereo_timeline", {})
    for t in stereo.get("table", []):
        row(f"stereo {t['split']} / {t['condition']} ({t['files']} files)", "stereo_timeline", None,
            t.get("new DER c0.25"), "count = the channels (2); DER c0 " + f"{t.get('new DER c0', 0):.3f}")
    pyaa = [f for f in stereo.get("files", []) if "pyaa" in f["file"]]
    if pyaa:  # pyAudioAnalysis voices: the stereo calls that use them (held-out pairs)
        seconds = sum(f["seconds"] for f in pyaa)
        mean = sum(f["new_der_c0.25"] * f["seconds"] for f in pyaa) / seconds
        row(f"stereo, pyAudioAnalysis voice pairs ({len(pyaa)} files)", "stereo_timeline", None, round(mean, 4),
            "duration-weighted mean of per-file DER (not pooled)")
    return rows


def _pii_rows(pii: dict) -> list[dict]:
    return [{"set": f"PII {kind}", "source": "pii", "recall": r.get("recall"), "precision": r.get("precision"),
             "gold": r.get("gold"), "predicted": r.get("predicted")} for kind, r in pii.get("per_type", {}).items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--parts-from", type=Path, default=None,
                        help="gather the parts' results already written in this folder instead of running them")
    args = parser.parse_args(argv)
    parts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in [n for n in args.only.split(",") if n]:
            done = args.parts_from / f"{PARTS[name][1]}.json" if args.parts_from else None
            if done is not None:
                parts[name] = json.loads(done.read_text()) if done.exists() else {"error": f"no {done}"}
                continue
            parts[name] = run_part(name, args.data.resolve(), Path(tmp))
            print(name, parts[name].get("error") or f"{parts[name]['wall_s']} s", file=sys.stderr, flush=True)
    der_rows, pii_rows = _der_rows(parts), _pii_rows(parts.get("pii", {}))
    errors = {n: p["error"] for n, p in parts.items() if "error" in p}
    notes = ("One run, the parts one after the other on the same machine. DER: pyannote.metrics, collar 0.25 s, "
             "overlap scored, UEM = whole file, pooled per set; 'est.' = the count the embedded diarizer "
             "estimates, 'true' = the reference count given. Stereo: the count is the channels, so only the "
             "true-count column applies. speaker_count's held-out rows were seen while its method was built (see "
             "speaker_count's own note); stereo_timeline's held-out = voice pairs with RAVDESS actor 04 or "
             "pyAudioAnalysis, never tuned on. pyAudioAnalysis has no RTTM set of its own: its voices are scored in "
             "the built stereo calls. PII: benchmarks/pii.py on the labelled lines it finds (per type recall and "
             "precision of the spans). Wall seconds per part: "
             + ", ".join(f"{n} {p.get('wall_s', 'run separately')}" for n, p in parts.items())
             + (f". Failed: {errors}" if errors else "") + ".\n\n" + "\n".join(
                 ["| set | recall | precision | gold | predicted |", "|---|---|---|---|---|"]
                 + [f"| {r['set']} | {r['recall']} | {r['precision']} | {r['gold']} | {r['predicted']} |"
                    for r in pii_rows]))
    write_results("speech_figures", {"der": der_rows, "pii": pii_rows, "parts": parts}, der_rows,
                  "Speech figures: DER with the estimated and the true speaker count, PII per type", notes)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
