"""One definition of each headline figure: the screens read the same numbers from one store."""

import json
import re

import pytest

from wocas.analytics.insights import compute
from wocas.cli import main
from wocas.config import load_config
from wocas.review import insights as review_insights
from wocas.store import Store
from wocas.store.queries import customers, risk_totals

ANGRY = ["I have been charged twice again and nobody fixed it last time.",
         "This is useless. I am closing my account and moving to another bank today.",
         "No, I want to cancel. I am done with you."]
HAPPY = ["Hi, I just wanted to check my new card has been sent.", "Great, thank you so much, that is perfect.",
         "Thanks, have a lovely day."]


def _call(n: int, customer: str, value: int, lines: list[str]) -> dict:
    turns = []
    for i, text in enumerate(lines):
        turns.append({"speaker": "agent", "text": "I understand, let me look at that for you.",
                      "start": 8.0 * i, "end": 8.0 * i + 3.0})
        turns.append({"speaker": "customer", "text": text, "start": 8.0 * i + 3.5, "end": 8.0 * i + 7.5})
    return {"call_id": f"f{n}", "customer_id": customer, "started_at": f"2026-11-0{2 + n % 3}T10:00:00",
            "customer_value": value, "turns": turns}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    work = tmp_path_factory.mktemp("figures")
    calls = [_call(0, "A", 1000, ANGRY), _call(1, "A", 1000, ANGRY), _call(2, "B", 600, ANGRY),
             _call(3, "C", 500, HAPPY), _call(4, "D", 300, HAPPY), _call(5, "D", 300, HAPPY)]
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
