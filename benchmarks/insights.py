"""Insights over a 100,000-call store: how long each report takes, and whether the planted
spike and emerging reason are found.

Builds the store with scripts/build_big_store.py (unless --store is given), then times each
step on a fresh connection: the customers-per-period, charge-back, early-warning (spikes)
and agents SQL; emerging-reason discovery (MiniLM + clustering over the newest `other`
statements); writing the tables; the HTML report; and `validate` against the outcomes file.

    .venv/bin/python -m benchmarks.insights [--calls 100000] [--store PATH --outcomes CSV]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_results
from wocas.analytics import insights as ins
from wocas.config import Config
from wocas.store import Store


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t0


def run(store_path: Path, outcomes: Path | None, out_dir: Path, period: str) -> dict:
    from wocas.analytics.outcomes import validate
    from wocas.analytics.report import render

    config = Config()
    values = {"period": period, "heavy": config.customers.heavy_user_contacts, "satisfied": 0.5, "top": 5,
              "per_contact": config.insights.cost_per_contact, "per_minute": config.insights.cost_per_minute,
              "examples": ins.N_EXAMPLES, "rescue_from": config.customers.rescue_from,
              "rescue_to": config.customers.rescue_to, "per_kind": 1}
    steps: dict[str, float] = {}
    with Store(store_path) as store:
        n_calls = store.scalar("SELECT count(*) FROM calls")
        from wocas.store import queries

        queries.define_views(store, queries.Thresholds.of(config))
        _, steps["calls view"] = _timed(store.execute, ins.CALLS_VIEW)
        customers, steps["customers per period"] = _timed(ins._q, store, ins.CUSTOMER_PERIODS_SQL, values)
        _, steps["heavy/light reasons"] = _timed(ins._q, store, ins.USAGE_REASONS_SQL, values)
        chargeback, steps["charge-back per owner"] = _timed(ins._q, store, ins.CHARGEBACK_SQL, values)
        _, steps["charge-back reasons + quotes"] = _timed(ins._q, store, ins.CHARGEBACK_REASONS_SQL, values)
        (spikes, _), steps["early warning: spikes"] = _timed(ins._spikes, store, config.insights)
        emerging, steps["early warning: emerging (MiniLM)"] = _timed(ins._emerging, store, config.insights)
        _, steps["agents + calls to hear"] = _timed(ins._agents, store, values)
        _, steps["all insights but emerging (compute)"] = _timed(ins.compute, store, config, period, emerging=False)
        insights = ins.compute(store, config, period)
        _, steps["write insight tables"] = _timed(ins.save, store, insights)
        html, steps["render HTML report"] = _timed(render, insights, config, str(store_path))
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.html").write_text(html)
        report = None
        if outcomes is not None:
            report, steps["validate against outcomes"] = _timed(validate, store, outcomes, config)
    return {
        "calls": n_calls, "period": period, "seconds": {k: round(v, 3) for k, v in steps.items()},
        "periods": len(customers), "owners_charged": len({r["owner"] for r in chargeback}),
        "spikes": [(a["reason"], str(a["start_day"]), a["count"], a["expected"], a["active"]) for a in spikes],
        "emerging": [(a["reason"], a["daily"]) for a in emerging],
        "report_bytes": len(html.encode()),
        "validation": None if report is None else {
            "customers": report["matched"], "roc_auc": report.get("roc_auc"), "top": report.get("top"),
            "retention_uplift": report["trajectories"].get("retention_uplift")},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="an existing store (default: build one)")
    parser.add_argument("--outcomes", type=Path, help="outcomes CSV for the store given with --store")
    parser.add_argument("--period", default="week", choices=["day", "week", "month"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, outcomes, build_s = args.store, args.outcomes, None
        if store is None:
            from scripts.build_big_store import build  # run from the checkout: python -m benchmarks.insights

            t0 = time.perf_counter()
            store = build(Path(tmp), args.calls)
            build_s = round(time.perf_counter() - t0, 1)
            outcomes = Path(tmp) / "outcomes.csv"
        result = run(store, outcomes, Path(tmp) / "report", args.period)
    result["build_store_seconds"] = build_s
    result["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    rows = [{"step": k, "seconds": v} for k, v in result["seconds"].items()]
    notes = (f"{result['calls']:,} calls over 13 weeks (scripts/build_big_store.py), per {result['period']}. "
             f"Store built (with the customers roll-up) in {build_s} s. "
             f"Spikes found: {result['spikes']}. Emerging: {result['emerging']}. "
             f"HTML report: {result['report_bytes'] / 1024:.0f} KiB. Validation on synthetic outcomes: "
             f"{result['validation']}. The machine's 2 cores were shared with other jobs (load average {result['load_average_after']} "
             f"after the run), so these times are upper bounds. The emerging step is mostly loading MiniLM "
             f"(sentence-transformers + torch import); `wocas run` has it loaded already.")
    path = write_results("insights", result, rows, f"Insights over {result['calls']:,} calls", notes)
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
