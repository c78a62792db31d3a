"""Five reviewers in the review app while `wocas run` writes the store.

A real `wocas run` on the bundled samples (with --force, so every call is redone) runs in a
subprocess twice without reviewers and once with 5 reviewer threads (each its own session)
browsing the queue, opening calls, posting verdicts and reading insights over HTTP against
`wocas serve`'s app under uvicorn, until the run ends. Reported: the run's exit code and wall
time with and without reviewers, requests, errors (any 5xx, a refused run, a lost verdict),
p50/p95 latency, and verdicts posted against verdicts stored.

    python -m benchmarks.review_load
"""

from __future__ import annotations

import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from benchmarks.common import ROOT, write_results
from wocas.review import create_app
from wocas.review.verdicts import verdicts_path

REVIEWERS = 5
TOKEN = "review-load-benchmark-token"
SAMPLES = ROOT / "samples"


def _run(out: Path) -> tuple[int, float]:
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "wocas.cli", "run", str(SAMPLES / "manifest.csv"),
                            "--out", str(out), "--force", "--quiet"], env=os.environ.copy(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return code, time.perf_counter() - started


def _serve(store: Path) -> tuple[uvicorn.Server, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(store, TOKEN), log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _reviewer(n: int, base: str, stop: threading.Event, latencies: list[float], errors: list[str],
              posted: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        client.post("/login", data={"reviewer": f"reviewer-{n}", "token": TOKEN, "next": "/"})
        while not stop.is_set():
            for method, url, data in _requests(client):
                t0 = time.perf_counter()
                try:
                    r = client.request(method, url, data=data)
                    ok = r.status_code < 500 and r.status_code != 401
                except httpx.HTTPError as e:
                    ok, r = False, None
                    errors.append(f"{url}: {e!r}")
                latencies.append(time.perf_counter() - t0)
                if r is not None and not ok:
                    errors.append(f"{method} {url}: {r.status_code}")
                elif r is not None and method == "POST":
                    posted.append(1)


def _requests(client: httpx.Client):
    queue = client.get("/?show=all").text
    ids = [part.split('"', 1)[0] for part in queue.split('href="/calls/')[1:]]
    yield "GET", "/?show=all", None
    for call in ids[:3]:
        page = client.get(f"/calls/{call}").text
        if 'name="flag" value="' not in page:
            continue
        flag = page.split('name="flag" value="', 1)[1].split('"', 1)[0]
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        yield "GET", f"/calls/{call}", None
        yield "POST", f"/calls/{call}/verdicts", {"csrf_token": csrf, "flag": flag, "verdict": "confirm"}
    yield "GET", "/insights", None


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        code, _ = _run(out)  # fills the store and publishes the first snapshot (and warms the file cache)
        assert code == 0, f"seed run exited {code}"
        store = out / "wocas.duckdb"
        alone = [_run(out) for _ in range(2)]
        server, base = _serve(store)
        stop = threading.Event()
        latencies: list[float] = []
        errors: list[str] = []
        posted: list[int] = []
        threads = [threading.Thread(target=_reviewer, args=(n, base, stop, latencies, errors, posted))
                   for n in range(REVIEWERS)]
        for t in threads:
            t.start()
        time.sleep(1.0)  # reviewers are browsing before the night starts
        loaded_code, loaded_wall = _run(out)
        stop.set()
        for t in threads:
            t.join()
        server.should_exit = True
        with sqlite3.connect(verdicts_path(store)) as con:
            stored = con.execute("SELECT count(*) FROM reviews").fetchone()[0]
    base_wall = statistics.mean(w for _, w in alone)
    lat = sorted(latencies)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else None
    result = {
        "reviewers": REVIEWERS, "input": "samples/manifest.csv (2 audio calls + 1 chat), --force",
        "run_exit_codes_alone": [c for c, _ in alone], "run_exit_code_with_reviewers": loaded_code,
        "run_wall_s_alone": [w for _, w in alone], "run_wall_s_with_reviewers": loaded_wall,
        "wall_ratio": loaded_wall / base_wall, "requests": len(latencies), "errors": len(errors),
        "error_examples": errors[:10], "p50_ms": statistics.median(lat) * 1000 if lat else None,
        "p95_ms": p95 * 1000 if p95 is not None else None, "verdicts_posted": len(posted),
        "verdicts_stored": stored, "verdicts_lost": len(posted) - stored,
    }
    rows = [{"case": "run alone (mean of 2)", "run exit": ",".join(str(c) for c, _ in alone),
             "run wall s": base_wall, "requests": 0, "errors": 0, "p50 ms": None, "p95 ms": None,
             "verdicts posted / stored": ""},
            {"case": f"run + {REVIEWERS} reviewers", "run exit": str(loaded_code), "run wall s": loaded_wall,
             "requests": len(latencies), "errors": len(errors), "p50 ms": result["p50_ms"],
             "p95 ms": result["p95_ms"], "verdicts posted / stored": f"{len(posted)} / {stored}"}]
    path = write_results("review_load", result, rows, "Review app: 5 reviewers during a nightly run",
                         notes=f"Run wall time with reviewers / alone: {result['wall_ratio']:.2f}x. The app reads "
                               "the snapshot the run publishes at its end; verdicts go to SQLite (WAL). The "
                               "reviewers share the machine's cores with the run.")
    print(path.read_text())


if __name__ == "__main__":
    main()
