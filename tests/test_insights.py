"""Insights end to end: four weeks of chats written here go through the real pipeline
(``wocas run``), then the reports are checked against what the chats were made to contain:
a spike of calls about a new fee in the last three days, preventable contacts charged to
their owners, unique customers per week, and an outcomes file of who later left.

The HTML report is opened in Debian's chromium (never a downloaded browser build) and a
screenshot lands in tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from wocas import cli
from wocas.config import load_config
from wocas.analytics.insights import compute, poisson_tail, refresh, robust_z
from wocas.analytics.outcomes import OutcomesError, read_outcomes, roc_auc, validate
from wocas.store import Store

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
START = date(2026, 1, 5)  # a Monday: weeks in the report start on these days
DAYS = 28
SPIKE_DAYS = (25, 26, 27)  # the new fee: the last three days
SPIKE_COUNTS = (7, 9, 8)
COST_PER_CONTACT, COST_PER_MINUTE = 5.0, 2.0

# (taxonomy reason the chat is about, the customer's opening words)
NORMAL = [
    ("delivery_late_or_missing", "My parcel still hasn't arrived, it was due last Tuesday."),
    ("login_problem", "I can't log in to the app, it keeps rejecting my password."),
    ("update_personal_details", "I need to update my address because I've moved house."),
    ("double_charge", "I've been charged twice for the same order, the payment went out two times."),
]
FEE = ("fees_and_charges", "Why have I been charged a new monthly fee on my account? Nobody told me about this fee.")

HAPPY_END = [("agent", "I've sorted that out for you now, it's all fixed."),
             ("customer", "Brilliant, thank you so much, that's really helpful."),
             ("agent", "You're welcome, have a lovely day.")]
ANGRY_END = [("agent", "I'm afraid there is nothing I can do about that."),
             ("customer", "This is useless. I want to cancel my account, I'm switching to another provider."),
             ("agent", "I understand.")]
SALE_END = [("customer", "This is ridiculous, I'm fed up with waiting for you to sort this out."),
            ("agent", "While I have you, would you like to upgrade to our premium package for ten pounds more?"),
            ("customer", "Are you serious? No. This is ridiculous, I'm going to close my account."),
            ("agent", "Okay, I'll note that.")]


def _chat(call_id: str, customer: str, agent: str, when: datetime, opening: str, ending: list) -> dict:
    turns = [("agent", "Hello, thanks for calling, how can I help?"), ("customer", opening),
             ("agent", "I'm sorry to hear that, let me have a look."), ("customer", "Okay, please do.")] + ending
    t, out = 0.0, []
    for speaker, text in turns:
        length = 3.0 + len(text.split()) * 0.4
        out.append({"speaker": speaker, "text": text, "start": round(t, 1), "end": round(t + length, 1)})
        t += length + 1.0
    return {"call_id": call_id, "customer_id": customer, "agent_id": agent, "started_at": when.isoformat(),
            "customer_value": 100 + 10 * int(customer[1:]), "turns": out}


def make_chats() -> tuple[list[dict], dict[str, bool]]:
    """The chats, and who churned (customers who said they would leave mostly did)."""
    rng = random.Random(11)
    chats, leavers = [], set()
    n = 0
    for day in range(DAYS):
        todays = [NORMAL[(day + k) % len(NORMAL)] for k in range(2)]
        if day in (6, 16):  # the fee existed before, rarely asked about
            todays.append(FEE)
        if day in SPIKE_DAYS:
            todays += [FEE] * SPIKE_COUNTS[SPIKE_DAYS.index(day)]
        for k, (reason, opening) in enumerate(todays):
            n += 1
            customer = f"K{rng.randrange(1, 41):02d}"
            style = rng.random()
            ending = HAPPY_END if style < 0.7 else ANGRY_END if style < 0.9 else SALE_END
            if ending is not HAPPY_END:
                leavers.add(customer)
            when = datetime.combine(START + timedelta(days=day), datetime.min.time()) + timedelta(hours=9, minutes=7 * k)
            chats.append(_chat(f"call-{n:03d}", customer, f"A{1 + n % 3}", when, opening, ending))
    customers = sorted({c["customer_id"] for c in chats})
    churned = {c: (c in leavers) != (rng.random() < 0.1) for c in customers}  # 10% of outcomes flip: real life
    return chats, churned


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("insights")
    chats, churned = make_chats()
    (work / "chats.jsonl").write_text("\n".join(json.dumps(c) for c in chats) + "\n")
    (work / "config.toml").write_text(f"[insights]\ncost_per_contact = {COST_PER_CONTACT}\n"
                                      f"cost_per_minute = {COST_PER_MINUTE}\ncurrency = \"£\"\n")
    with (work / "outcomes.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["customer_id", "outcome", "date"])
        for customer, left in churned.items():
            writer.writerow([customer, "churned" if left else "retained", "2026-03-01"])
    out = work / "out"
    return {"work": work, "out": out, "chats": chats, "churned": churned}


@pytest.fixture(scope="module")
def ran(run):
    import io
    import sys

    captured = io.StringIO()
    saved, sys.stderr = sys.stderr, captured
    try:
        code = cli.main(["run", str(run["work"] / "chats.jsonl"), "--out", str(run["out"]),
                         "--config", str(run["work"] / "config.toml"), "--quiet"])
    finally:
        sys.stderr = saved
    assert code == cli.EXIT_OK, f"wocas run failed ({code}): {captured.getvalue()[-2000:]}"
    return {**run, "summary": captured.getvalue()}


def _store(ran) -> Store:
    return Store(ran["out"] / cli.STORE_NAME)


def test_spike_in_one_reason_is_raised_with_start_size_and_quotes(ran, capsys):
    assert "SPIKE fees_and_charges" in ran["summary"], ran["summary"][-1500:]
    with _store(ran) as store:
        alerts = store.query("SELECT * FROM alerts WHERE kind = 'spike' ORDER BY start_day")
        fee_calls = store.query("SELECT count(*) AS n FROM calls WHERE contact_reason = 'fees_and_charges'")[0]["n"]
    assert fee_calls >= 20, "the jobs stage should put most fee chats on fees_and_charges"
    assert [a["reason"] for a in alerts] == ["fees_and_charges"], alerts
    spike = alerts[0]
    assert spike["start_day"] == START + timedelta(days=SPIKE_DAYS[0])
    assert spike["end_day"] == START + timedelta(days=SPIKE_DAYS[-1]) and spike["active"]
    assert spike["count"] >= 18 and spike["excess"] > 15 and spike["expected"] < 1
    assert spike["owner"] == "policy"
    assert spike["examples"] and all("fee" in q.lower() for q in spike["examples"])
    assert cli.main(["alerts", "--out", str(ran["out"])]) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert printed.startswith("SPIKE fees_and_charges") and f"from {spike['start_day']}" in printed


def test_chargeback_sums_to_the_preventable_calls(ran):
    config = load_config(ran["work"] / "config.toml")
    with _store(ran) as store:
        insights = compute(store, config, "week", emerging=False)
        calls = store.query("SELECT call_id, preventable, handle_time, started_at FROM calls")
        owners = {r["call_id"]: r["owner"] for r in store.query(
            "SELECT call_id, arg_min(owner, idx) FILTER (WHERE preventable) AS owner FROM jobs GROUP BY call_id")}
    expected_total, by_owner = 0.0, defaultdict(float)
    for c in calls:
        if c["preventable"]:
            cost = COST_PER_CONTACT + COST_PER_MINUTE * c["handle_time"] / 60
            expected_total += cost
            by_owner[owners.get(c["call_id"]) or "unassigned"] += cost
    assert sum(1 for c in calls if c["preventable"]) >= 60  # delivery, login, double charge and fees are preventable
    got = defaultdict(float)
    for r in insights.chargeback:
        got[r["owner"]] += r["cost"]
    assert sum(got.values()) == pytest.approx(expected_total, abs=0.05 * len(insights.chargeback))
    assert insights.totals["preventable_cost"] == pytest.approx(expected_total, abs=0.05)
    for owner, cost in by_owner.items():
        assert got[owner] == pytest.approx(cost, abs=0.05 * len(insights.chargeback)), owner
    assert {"logistics", "IT", "billing", "policy"} <= set(got)
    assert "account" not in got  # updating an address is not a failure anyone owns
    policy = [r for r in insights.chargeback_reasons if r["owner"] == "policy"][0]
    assert policy["reason"] == "fees_and_charges" and "fee" in policy["examples"][0].lower()
    last_week = max(r["period"] for r in insights.chargeback)
    policy_weeks = {r["period"]: r for r in insights.chargeback if r["owner"] == "policy"}
    assert policy_weeks[last_week]["change"] > 0  # the fee spike made policy's bill grow


def test_unique_customers_per_week_match_the_chats(ran):
    weeks = defaultdict(lambda: {"customers": set(), "contacts": 0})
    for c in ran["chats"]:
        d = date.fromisoformat(c["started_at"][:10])
        week = d - timedelta(days=d.weekday())
        weeks[week]["customers"].add(c["customer_id"])
        weeks[week]["contacts"] += 1
    with _store(ran) as store:
        rows = compute(store, load_config(ran["work"] / "config.toml"), "week", emerging=False).customers
    assert [r["period"] for r in rows] == sorted(weeks)
    for r in rows:
        w = weeks[r["period"]]
        assert r["customers"] == len(w["customers"]) and r["contacts"] == w["contacts"]
        assert r["helped"] + r["at_risk"] + r["outcome_unknown"] == r["customers"]
        assert r["heavy_customers"] + r["light_customers"] == r["customers"]
        assert r["contacts_per_customer"] == pytest.approx(w["contacts"] / len(w["customers"]), abs=1e-3)
    assert sum(r["at_risk"] for r in rows) > 0 and sum(r["helped"] for r in rows) > 0


def test_validate_scores_defection_risk_against_outcomes(ran, capsys):
    from sklearn.metrics import roc_auc_score

    code = cli.main(["validate", "--outcomes", str(ran["work"] / "outcomes.csv"), "--out", str(ran["out"])])
    assert code == cli.EXIT_OK
    report = json.loads((ran["out"] / "validation" / "outcomes.json").read_text())
    assert "ROC-AUC" in capsys.readouterr().out
    with _store(ran) as store:
        risk = {r["customer_id"]: r["defection_risk"] for r in store.query("SELECT * FROM customers")}
    ids = sorted(risk)
    labels = [int(ran["churned"][c]) for c in ids]
    assert report["matched"] == len(ids) == len(ran["churned"])
    assert report["roc_auc"] == pytest.approx(roc_auc_score(labels, [risk[c] for c in ids]), abs=1e-4)
    assert report["roc_auc"] > 0.7, "customers who said they would leave should carry the higher risk"
    top10 = report["top"][1]
    assert top10["k"] == math.ceil(0.1 * len(ids))
    assert top10["lift"] == pytest.approx(top10["precision"] / (sum(labels) / len(labels)), abs=1e-2)


def test_report_renders_in_headless_chromium(ran):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    assert cli.main(["report", "--out", str(ran["out"]), "--config", str(ran["work"] / "config.toml")]) == 0
    html = ran["out"] / "report" / "report.html"
    text = html.read_text()
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=args)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(html.as_uri())
        assert page.locator("#alerts").inner_text().count("Spike: fees_and_charges") == 1
        assert page.locator("svg.chart").count() >= 4  # customers, contacts, charge-back, the spike
        bars = page.locator("#chargeback svg.chart rect").count()
        assert bars > 10
        assert "policy" in page.locator("#chargeback").inner_text()
        assert page.locator("#agents tr").count() == 1 + 3
        box = page.locator("#customers svg.chart").first.bounding_box()
        assert box and box["width"] > 600 and box["height"] > 150
        page.screenshot(path=str(ARTIFACTS / "insights-report.png"), full_page=True)
        browser.close()
    assert requests == [html.as_uri()], f"the report fetched something: {requests}"
    assert not errors, errors


def _mini_store(path: Path) -> Store:
    """A store filled by hand (for exact numbers the pipeline cannot promise)."""
    store = Store(path)
    store.execute("DELETE FROM calls")
    return store


def test_recovered_calls_and_value_rescued_are_measured(tmp_path):
    store = _mini_store(tmp_path / "s.duckdb")
    # 10 customers whose last call recovered (8 stay), 10 whose last call deteriorated (4 stay).
    rows, outcomes = [], []
    for i in range(20):
        recovered = i < 10
        stays = (i < 8) if recovered else (i < 14)
        cid = f"C{i:02d}"
        rows.append((f"c{i}", cid, "recovered" if recovered else "deteriorated", 0.2 if recovered else 0.7, 1000.0))
        outcomes.append((cid, "retained" if stays else "churned"))
    for call_id, cid, shape, risk, value in rows:
        store.execute("INSERT INTO calls (call_id, status, customer_id, started_at, trajectory_shape) "
                          "VALUES (?, 'ok', ?, '2026-01-10T10:00:00', ?)", [call_id, cid, shape])
        store.execute("INSERT INTO customers (customer_id, contacts, defection_risk, value, last_contact) "
                          "VALUES (?, 1, ?, ?, '2026-01-10 10:00:00')", [cid, risk, value])
    csv_path = tmp_path / "outcomes.csv"
    csv_path.write_text("customer_id,outcome,date\n" + "\n".join(f"{c},{o},2026-02-01" for c, o in outcomes) + "\n")
    report = validate(store, csv_path)
    t = report["trajectories"]
    assert t["recovered"] == {"customers": 10, "retained": 8, "retention": 0.8}
    assert t["deteriorated"] == {"customers": 10, "retained": 4, "retention": 0.4}
    assert t["retention_uplift"] == pytest.approx(0.4)
    assert t["value_rescued"] == pytest.approx(0.4 * 10 * 1000.0)
    assert t["p_value"] < 0.1
    # Risk 0.7 for the deteriorated group (6 of 10 left) vs 0.2 (2 of 10): AUC from the tied ranks.
    assert report["roc_auc"] == pytest.approx((6 * 8 + 0.5 * (6 * 4 + 2 * 8)) / (8 * 12), abs=1e-4)
    store.close()


def test_outcome_files_are_checked_line_by_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,outcome\nC1,churned\nC2,maybe\n")
    with pytest.raises(OutcomesError, match=r"bad.csv:3: outcome 'maybe'"):
        read_outcomes(bad)
    revenue = tmp_path / "rev.csv"
    revenue.write_text("customer_id,revenue_after,date\nC1,0,2026-01-01\nC2,120.5,2026-01-01\n")
    rows = read_outcomes(revenue)
    assert [(r["churned"], r["revenue_after"]) for r in rows] == [(True, 0.0), (False, 120.5)]
    with pytest.raises(OutcomesError, match="needs a customer_id column"):
        (tmp_path / "x.csv").write_text("id,outcome\n1,churned\n")
        read_outcomes(tmp_path / "x.csv")


def test_auc_and_spike_statistics():
    import numpy as np

    assert roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert roc_auc(np.array([0.5, 0.5]), np.array([0, 1])) == pytest.approx(0.5)
    assert poisson_tail(0, 2.0) == 1.0
    assert poisson_tail(3, 1.0) == pytest.approx(1 - math.exp(-1) * (1 + 1 + 0.5))
    # A usually-empty reason does not spike on one call; nine calls on a day it usually has none do.
    assert robust_z(1, 0, 0, 0.1) == pytest.approx(1.0)
    assert robust_z(9, 0, 0, 0.1) == pytest.approx(9.0)
    assert robust_z(20, 10, 2, 10) == pytest.approx(10 / math.sqrt(10))


def test_emerging_reason_growing_night_over_night(tmp_path):
    store = _mini_store(tmp_path / "e.duckdb")
    growing = ["the new smart meter keeps beeping all night", "my smart meter is beeping constantly",
               "the smart meter you fitted won't stop beeping", "smart meter beeping noise at night",
               "why is the smart meter beeping", "the meter beeps every few minutes", "smart meter making a beeping sound"]
    flat = ["I want to talk about my pension transfer", "question about my pension transfer",
            "pension transfer paperwork question"]
    n = 0
    day0 = date(2026, 3, 1)
    for day, count in ((5, 1), (6, 2), (7, 4)):
        for k in range(count):
            n += 1
            store.execute("INSERT INTO calls (call_id, status, customer_id, started_at, contact_reason) "
                              "VALUES (?, 'ok', ?, ?, 'other')", [f"g{n}", f"C{n}", f"{day0 + timedelta(days=day)}T10:0{k}:00"])
            store.execute("INSERT INTO jobs (call_id, idx, statement, reason) VALUES (?, 0, ?, 'other')",
                              [f"g{n}", growing[(n - 1) % len(growing)]])
    for day in (5, 6, 7):  # the same one statement a night: not growing
        n += 1
        store.execute("INSERT INTO calls (call_id, status, customer_id, started_at, contact_reason) "
                          "VALUES (?, 'ok', ?, ?, 'other')", [f"f{n}", f"C{n}", f"{day0 + timedelta(days=day)}T11:00:00"])
        store.execute("INSERT INTO jobs (call_id, idx, statement, reason) VALUES (?, 0, ?, 'other')",
                          [f"f{n}", flat[day - 5]])
    alerts = refresh(store, load_config(None, {"insights": {"emerging_min_count": 3}})).alerts
    emerging = [a for a in alerts if a["kind"] == "emerging"]
    assert len(emerging) == 1, emerging
    e = emerging[0]
    assert "meter" in e["reason"] and [d[1] for d in json.loads(e["daily"])] == [1, 2, 4]
    assert e["count"] == 7 and e["start_day"] == day0 + timedelta(days=5) and e["examples"]
    assert store.query("SELECT count(*) AS n FROM alerts WHERE kind = 'emerging'")[0]["n"] == 1
    store.close()


def test_a_thin_store_gives_thin_reports_not_errors(tmp_path):
    """Calls with no emotion, jobs, signals or satisfaction (stages off): counts only."""
    from wocas.analytics.report import write_report

    store = _mini_store(tmp_path / "thin.duckdb")
    for i, day in enumerate(("2026-01-05", "2026-01-06", "2026-01-13")):
        store.execute("INSERT INTO calls (call_id, status, customer_id, started_at) VALUES (?, 'ok', ?, ?)",
                          [f"t{i}", "C1" if i < 2 else "C2", f"{day}T10:00:00"])
    html, _ = write_report(store, tmp_path / "report")
    rows = store.query("SELECT period, customers, contacts, outcome_unknown FROM insights_customers ORDER BY period")
    assert [(str(r["period"]), r["customers"], r["contacts"], r["outcome_unknown"]) for r in rows] == [
        ("2026-01-05", 1, 2, 1), ("2026-01-12", 1, 1, 1)]
    assert store.query("SELECT count(*) AS n FROM insights_chargeback")[0]["n"] == 0
    assert "No preventable contacts." in html.read_text() and "No spikes" in html.read_text()
    store.close()


def test_agents_see_their_own_calls_listed_by_id(ran):
    with _store(ran) as store:
        agents = store.query("SELECT * FROM insights_agents")
        calls = {r["call_id"]: r for r in store.query("SELECT call_id, agent_id, trust_opening, trust_closing FROM calls")}
    assert [a["agent_id"] for a in agents] == ["A1", "A2", "A3"]  # by id, not by any score
    assert sum(a["calls"] for a in agents) == len(ran["chats"])
    for a in agents:
        assert 0 <= a["turned"] <= a["frustrated"] <= a["calls"]
        for item in json.loads(a["listen"]):
            call = calls[item["call_id"]]
            assert call["agent_id"] == a["agent_id"]
            if item["why"] == "turned frustration into trust":
                assert call["trust_opening"] <= -0.2 and call["trust_closing"] >= 0.2
    # The chats where the agent pitched an upgrade to an angry customer (about one in ten).
    assert sum(a["sales_to_frustrated"] for a in agents) >= 2
