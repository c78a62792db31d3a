"""One definition of each headline figure: the screens read the same numbers from one store."""

import dataclasses
import json
import re

import pytest

from wocas.analytics.insights import compute
from wocas.cli import main
from wocas.config import load_config
from wocas.review import insights as review_insights
from wocas.store import Store
from wocas.store import snapshot
from wocas.store.queries import Thresholds, call_outcomes, customers, repeats, risk_totals

ANGRY = ["I have been charged twice again and nobody fixed it last time.",
         "This is useless. I am closing my account and moving to another bank today.",
         "No, I want to cancel. I am done with you."]
HAPPY = ["Hi, I just wanted to check my new card has been sent.", "Great, thank you so much, that is perfect.",
         "Thanks, have a lovely day."]
# says it is a repeat, with no earlier contact in the store
SAID_AGAIN = ["This is the second time I am calling about my parcel. It still has not arrived and I am fed up.",
              "This is useless, nobody ever fixes anything.", "I am still not happy about this."]
# frustration turned into trust
TURNED = ["My parcel is a week late, this is ridiculous and terrible, I'm furious.",
          "Oh wonderful, thank you, that's great. I really appreciate your help, you've been brilliant.",
          "Perfect, that is sorted then. Thank you so much, have a lovely day."]
# frustration turned to ease, though the satisfaction model predicts under 0.5: recovered all the same
TURNED_LOW_P = ["My parcel is a week late, this is ridiculous and terrible, I'm furious.",
                "Oh wonderful, thank you, that's great. I really appreciate your help.",
                "Thank you so much, you've been brilliant, have a lovely day."]
FIXED = ["I'm sorry. I've found it: it was held at the depot. It will be delivered tomorrow morning "
         "and I've refunded your delivery charge.", "You're welcome. Is there anything else?",
         "Goodbye, take care."]


def _call(n: int, customer: str, value: int, lines: list[str], agent: list[str] | None = None) -> dict:
    turns = []
    for i, text in enumerate(lines):
        turns.append({"speaker": "agent", "text": agent[i] if agent else "I understand, let me look at that for you.",
                      "start": 8.0 * i, "end": 8.0 * i + 3.0})
        turns.append({"speaker": "customer", "text": text, "start": 8.0 * i + 3.5, "end": 8.0 * i + 7.5})
    return {"call_id": f"f{n}", "customer_id": customer, "started_at": f"2026-11-0{2 + n % 3}T10:00:00",
            "customer_value": value, "turns": turns}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    work = tmp_path_factory.mktemp("figures")
    calls = [_call(0, "A", 1000, ANGRY), _call(1, "A", 1000, ANGRY), _call(2, "B", 600, ANGRY),
             _call(3, "C", 500, HAPPY), _call(4, "D", 300, HAPPY), _call(5, "D", 300, HAPPY),
             _call(6, "E", 400, SAID_AGAIN), _call(7, "F", 700, TURNED, FIXED), _call(8, "G", 200, TURNED),
             _call(9, "H", 900, TURNED_LOW_P)]
    (work / "in.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    assert main(["run", str(work / "in.jsonl"), "--out", str(work / "out"), "--quiet"]) == 0
    return work / "out"


def test_value_at_risk_and_at_risk_agree_across_screens(store_dir, capsys):
    config = load_config(None)
    with Store(store_dir / "wocas.duckdb") as store:
        rows = customers(store)
        totals = risk_totals(store)
        report = compute(store, config, "week", emerging=False).totals
        app = review_insights.build(store, [])
    at_risk = [r for r in rows if r.at_risk]
    expected = sum(r.value_at_risk or 0.0 for r in at_risk)
    assert totals.at_risk == len(at_risk) and totals.value_at_risk == pytest.approx(expected)
    # the figure counts at-risk customers only, not everyone with a value
    everyone = sum(r.value_at_risk or 0.0 for r in rows)
    assert at_risk and everyone > expected
    assert report["value_at_risk"] == pytest.approx(expected)
    assert report["customers_at_risk_now"] == len(at_risk)
    assert app["value_at_risk"] == pytest.approx(expected)
    assert app["customers_at_risk"] == len(at_risk)
    assert main(["customers", "--out", str(store_dir)]) == 0
    printed = capsys.readouterr().out
    m = re.search(r"(\d+) of (\d+) customers at risk; value at risk ([\d,.]+)", printed)
    assert m and int(m[1]) == len(at_risk) and int(m[2]) == len(rows)
    assert float(m[3].replace(",", "")) == pytest.approx(expected, abs=0.01)


def _app_pages(store_dir) -> tuple[str, dict[str, str]]:
    """The review app's insights page and every customer's page, as a reviewer sees them."""
    from fastapi.testclient import TestClient

    from wocas.review import create_app

    path = store_dir / "wocas.duckdb"
    with Store(path) as store:
        snapshot.publish(store)
        ids = [r.customer_id for r in customers(store)]
    client = TestClient(create_app(path, None, allowed_hosts=("testserver",),
                                   thresholds=Thresholds.of(load_config(None))))
    return client.get("/insights").text, {cid: client.get(f"/customers/{cid}").text for cid in ids}


def _cells(page: str, cls: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(rf'<td class="{cls}">(.*?)</td>', page, re.S)]


def test_repeats_agree_across_screens(store_dir, capsys):
    config = load_config(None)
    with Store(store_dir / "wocas.duckdb") as store:
        rows = {r.customer_id: r for r in customers(store)}
        stored = risk_totals(store).repeat_contacts
        per_call = repeats(store, Thresholds.of(config))
        report = compute(store, config, "week", emerging=False).totals
        flagged = {r["call_id"] for r in store.query(
            "SELECT call_id FROM calls WHERE list_contains(flags, 'preventable_repeat')")}
    assert stored == sum(r.repeat_contacts for r in rows.values()) == len(per_call) >= 3
    # each kind of evidence occurs: an earlier contact about the same thing, and the customer's word alone
    assert {r["evidence"] for r in per_call.values()} >= {"earlier_contact", "customer_said"}
    assert per_call["f6"]["evidence"] == "customer_said" and rows["E"].repeat_contacts == 1
    # the QA flag a reviewer sees is a repeat in every figure too
    assert flagged and flagged <= set(per_call)
    assert report["repeat_contacts"] == stored
    insights_page, pages = _app_pages(store_dir)
    assert re.search(rf"\b{stored} repeat contacts\b", insights_page)
    for cid, page in pages.items():
        marked = [c for c in _cells(page, "repeat") if c != "–"]
        assert len(marked) == rows[cid].repeat_contacts, cid
        assert f'id="repeat-count">{rows[cid].repeat_contacts}<' in page
    assert main(["customers", "--out", str(store_dir)]) == 0
    assert re.search(rf"; {stored} repeat contacts;", capsys.readouterr().out)


def test_recovered_and_left_at_risk_are_one_definition(store_dir, capsys):
    config = load_config(None)
    with Store(store_dir / "wocas.duckdb") as store:
        outcomes = call_outcomes(store, Thresholds.of(config))
        stored = risk_totals(store)
        insights = compute(store, config, "week", emerging=False)
        calls = {r["call_id"]: r for r in store.query("SELECT call_id, customer_id, started_at FROM calls")}
        shapes = store.query("SELECT call_id, trajectory_shape, p_satisfied FROM calls")
    recovered = {c for c, o in outcomes.items() if o["recovered"]}
    at_risk = {c for c, o in outcomes.items() if o["left_at_risk"]}
    assert recovered and at_risk and not recovered & at_risk  # a call is never both
    # a recovered call whose predicted P(satisfied) is under the threshold still counts as recovered, not at
    # risk: with the threshold above every stored P, the same calls recover and none of them is at risk
    strict = dataclasses.replace(Thresholds.of(config), satisfied=1.01)
    with Store(store_dir / "wocas.duckdb") as store:
        strict_outcomes = call_outcomes(store, strict)
    assert all(r["p_satisfied"] is None or r["p_satisfied"] < 1.01 for r in shapes)
    assert {c for c, o in strict_outcomes.items() if o["recovered"]} == recovered
    assert not {c for c, o in strict_outcomes.items() if o["left_at_risk"]} & recovered
    assert not any(o["satisfied"] for o in strict_outcomes.values())  # the threshold did bite
    assert stored.recovered_calls == len(recovered) == insights.totals["recovered_calls"]
    assert insights.totals["calls_left_at_risk"] == len(at_risk)
    # the report's per-period "left at risk" counts customers whose last contact there left them at risk
    # (or who spoke of leaving): never a customer whose last contact recovered
    for period in insights.customers:
        assert period["helped"] + period["at_risk"] + period["outcome_unknown"] == period["customers"]
    last = {}
    for c in sorted(outcomes, key=lambda c: calls[c]["started_at"]):
        last[calls[c]["customer_id"]] = c
    assert sum(p["at_risk"] for p in insights.customers) >= sum(1 for c in last.values() if c in at_risk)
    insights_page, pages = _app_pages(store_dir)
    assert re.search(rf"\b{len(recovered)} calls? recovered\b", insights_page)
    shown_recovered = sum(_cells(p, "outcome").count("recovered") for p in pages.values())
    shown_at_risk = sum(_cells(p, "outcome").count("left at risk") for p in pages.values())
    assert (shown_recovered, shown_at_risk) == (len(recovered), len(at_risk))
    assert main(["customers", "--out", str(store_dir)]) == 0
    assert re.search(rf"; {len(recovered)} calls recovered", capsys.readouterr().out)


def test_customer_trend_chart_has_axes_dates_and_labels_at_points():
    from wocas.review.charts import trend_chart

    chart = trend_chart([("2026-11-02T10:00:00", -0.6), ("2026-11-03T10:00:00", None),
                         ("2026-11-09T10:00:00", 0.4), ("2026-11-10T10:00:00", 0.5)])
    assert chart.by_date and [label for _, label in chart.x_ticks] == ["2026-11-02", "2026-11-09", "2026-11-10"]
    assert [label for _, label in chart.y_ticks] == ["-1.0", "-0.5", "+0.0", "+0.5", "+1.0"]
    first, second, third = chart.points
    # placed by date: a week between the first two, a day between the last two
    assert (second.x - first.x) == pytest.approx(7 * (third.x - second.x), rel=0.01)
    assert first.y > third.y and first.label.startswith("2026-11-02") and first.value == "-0.60"
    ticks = dict(chart.x_ticks)
    assert all(any(abs(p.x - x) < 0.01 for p in chart.points) for x in ticks)  # each date sits under its point
    undated = trend_chart([(None, 0.1), ("not a date", 0.2)])
    assert not undated.by_date and [label for _, label in undated.x_ticks] == ["#1", "#2"]


def test_estimated_chats_are_charged_no_minutes(store_dir):
    config = load_config(None)
    with Store(store_dir / "wocas.duckdb") as store:
        timing = store.query("SELECT DISTINCT record->'call'->>'timing' AS t FROM calls")
        insights = compute(store, config, "week", emerging=False)
    assert [r["t"] for r in timing] == ["given"]  # these transcripts carry times
    with Store(store_dir / "wocas.duckdb") as store:
        store.execute("UPDATE calls SET record = json_merge_patch(record, '{\"call\": {\"timing\": \"estimated\"}}')")
        estimated = compute(store, config, "week", emerging=False)
        store.execute("UPDATE calls SET record = json_merge_patch(record, '{\"call\": {\"timing\": \"given\"}}')")
    assert insights.totals["preventable"] == estimated.totals["preventable"] > 0
    assert insights.totals["preventable_minutes"] > 0 and estimated.totals["preventable_minutes"] == 0
    assert estimated.totals["preventable_cost"] == pytest.approx(
        estimated.totals["preventable"] * config.insights.cost_per_contact)


def test_trust_plot_label_names_the_time_of_its_dot(store_dir):
    from wocas.analytics.plots import lowest_mark

    with Store(store_dir / "wocas.duckdb", read_only=True) as store:
        call = store.load("f0")
    customer = call.trajectories["customer"]
    at, label = lowest_mark(customer)
    low_point = min(customer.points, key=lambda p: p[1])
    assert at == low_point[0] and label.endswith(f"at {at:.0f}s")
    # the dot is at the turn's midpoint, which is not the turn's start the trajectory records
    assert at != customer.lowest_at
