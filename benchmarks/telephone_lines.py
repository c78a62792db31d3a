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
        [--channels stereo] [--splits dev,heldout] [--variant NAME=JSON ...] [--raw DIR]
    python -m benchmarks.telephone_lines --write [--raw DIR]   # results/telephone_clean_vs_line.*

--write composes benchmarks/results/telephone_clean_vs_line.{md,json} from the runs in --raw: the
lines (all 20 calls, mono and stereo), the errors by kind per line (stereo), the decoding variants
on the dev calls, each against the default of the same run, the chosen variant once on the held-out
calls, and the same variants on the read / acted speech sets of benchmarks/asr_profiles.py (kept
as raw/asr_profiles-<profile>-<variant>.json by the caller).
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


LINE_ORDER = ("clean", "narrow", "telephone")


def write(raw: Path, notes: str) -> Path:
    from benchmarks import telephone
    from benchmarks.common import write_results
    from benchmarks.telephone_errors import analyse

    runs = [json.loads(p.read_text()) for p in sorted(raw.glob("*.json")) if not p.name.startswith("asr_profiles")]
    runs = [r for r in runs if "error" not in r]
    rows, errors = [], {}
    full = {(r["line"], r["profile"]): r for r in runs
            if r["variant"] == "default" and r["channels"] == "mono,stereo" and r["splits"] == "dev,heldout"}
    for profile in ("fast", "accurate"):
        base = full.get(("telephone", profile))
        for line in LINE_ORDER:
            r = full.get((line, profile))
            if not r:
                continue
            labels = {c["call"]: c for c in telephone.load_calls(telephone.default_cache(line))}
            found = analyse(r, labels)
            errors[f"{line}/{profile}"] = found
            t = found["totals"]
            rows.append({
                "profile": profile, "model": r["model"], "line": line,
                "WER stereo": r["wer_stereo"], "dev": r["wer_stereo_dev"], "held-out": r["wer_stereo_heldout"],
                "vs telephone": round(r["wer_stereo"] / base["wer_stereo"], 2) if base else None,
                "WER mono": r["wer_mono"],
                "mono vs telephone": round(r["wer_mono"] / base["wer_mono"], 2) if base else None,
                "S / I / D per ref word": f"{t.get('S', 0) / t['ref']:.3f} / {t.get('I', 0) / t['ref']:.3f} / "
                                          f"{sum(v for k, v in t.items() if k.startswith('D_')) / t['ref']:.3f}",
                "D: onset / tail / missing turns (n)": f"{t.get('D_onset', 0)} / {t.get('D_tail', 0)} / "
                                                       f"{t.get('D_missing', 0)} ({t.get('missing_turns', 0)})",
                "I outside turns": t.get("I_outside", 0),
                "stereo DER c0.25": r["der_stereo_c0.25"],
                "x real time stereo": r["x_real_time_stereo"]})
    variants = [r for r in runs if r["line"] == "telephone" and r["channels"] == "stereo"]
    vrows = []
    for r in sorted(variants, key=lambda r: (r["splits"], r["profile"] != "fast", r["variant"] != "default",
                                             r["variant"])):
        base = next((b for b in variants if b["variant"] == "default" and b["profile"] == r["profile"]
                     and b["splits"] == r["splits"]), None)
        vrows.append({"profile": r["profile"], "calls": r["splits"], "variant": r["variant"],
                      "asr": json.dumps(r["asr"]) if r["asr"] else "as shipped",
                      "WER stereo": r["wer_stereo"],
                      "vs default": round(r["wer_stereo"] / base["wer_stereo"], 3) if base else None,
                      "x real time": r["x_real_time_stereo"]})
    checks = {p.stem.removeprefix("asr_profiles-"): json.loads(p.read_text()) for p in raw.glob("asr_profiles-*.json")}
    crows = []
    for name, r in sorted(checks.items()):
        profile, _, variant = name.partition("-")
        base = checks.get(f"{profile}-default", {}).get("sets", {})
        for set_name, s in r.get("sets", {}).items():
            b = base.get(set_name)
            crows.append({"profile": profile, "variant": variant, "set": set_name, "files": s["files"],
                          "WER": s["wer"], "vs default": round(s["wer"] / b["wer"], 3) if b and b["wer"] else None,
                          "empty": len(s["empty"])})
    data = {"lines": {f"{k[0]}/{k[1]}": {x: v for x, v in r.items() if x != "calls"} for k, r in full.items()},
            "errors": errors, "variants": vrows, "variant_checks": crows,
            "hypotheses": {f"{k[0]}/{k[1]}": {call: {x: v for x, v in row.items() if not x.endswith("_words")}
                                              for call, row in r["calls"].items()} for k, r in full.items()}}
    from benchmarks.common import RESULTS

    path = write_results("telephone_clean_vs_line", data, rows,
                         "Telephone benchmark: the espeak-ng voice against the line", notes)
    md = path.read_text().rstrip("\n").split("\n")
    cut = next(i for i, l in enumerate(md) if l.startswith("Machine:"))
    extra = ["", "## Decoding variants on the telephone line (stereo; chosen on the dev calls, a kept one then "
             "decoded once on the held-out calls)", ""]
    for table in (vrows, crows):
        if table:
            cols = list(table[0])
            extra += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            extra += ["| " + " | ".join("" if row[c] is None else (f"{row[c]:.3f}" if isinstance(row[c], float)
                                                                  else str(row[c])) for c in cols) + " |"
                      for row in table]
            extra += ["", "Same sets as benchmarks/results/asr_profiles.md, each variant against the profile as "
                      "shipped in the same run:", ""] if table is vrows and crows else [""]
    path.write_text("\n".join(md[:cut] + extra + md[cut:]) + "\n")
    assert path.parent == RESULTS
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="fast,accurate")
    parser.add_argument("--lines", default="telephone,clean")
    parser.add_argument("--channels", default="stereo")
    parser.add_argument("--splits", default="dev,heldout")
    parser.add_argument("--variant", action="append", default=[], help="NAME=JSON of AsrConfig fields")
    parser.add_argument("--raw", type=Path, default=Path("/tmp/wocas-telephone-lines"))
    parser.add_argument("--write", action="store_true", help="write results/telephone_clean_vs_line.*")
    parser.add_argument("--notes", type=Path, help="a text file: the notes under the table")
    args = parser.parse_args()
    if args.write:
        print(write(args.raw, args.notes.read_text().strip() if args.notes else ""))
        return
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
