"""Unresolved issues are carried into the customer record as open issues, and the last contact's
outcome is a churn factor with its evidence quote (real pipeline, calls written here)."""

from __future__ import annotations

from wocas.cli import main

from tests.test_customers import _call, _customers, _write

GAVE_UP = _call("t-erin", "erin", "2024-05-02T09:00:00", [
    ("agent", "Hello, how can I help?"),
    ("customer", "I've been trying to get my parcel redelivered for a week."),
    ("agent", "I'd need the reference number from the card they left."),
    ("customer", "Forget it. I'll sort it out myself, there's no point."),
])
FIXED = _call("t-finn", "finn", "2024-05-02T10:00:00", [
    ("agent", "Hello, how can I help?"),
    ("customer", "My direct debit was taken twice this month."),
    ("agent", "I've refunded the second payment, it'll be back in your account by tonight."),
    ("customer", "Brilliant, that's sorted then. Thanks."),
])


def test_an_unresolved_call_is_an_open_issue_and_a_churn_reason(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path / "calls.jsonl", [GAVE_UP, FIXED])), "--out", str(out), "--quiet"]) == 0
    rows = _customers(out)
    erin, finn = rows["erin"], rows["finn"]
    assert erin["open_jobs"], "the call the customer gave up on leaves an issue open"
    assert any("gave up" in r and "no point" in r for r in erin["risk_reasons"])
    assert not finn["open_jobs"]
    assert not any("last contact ended" in r for r in finn["risk_reasons"])
    assert erin["defection_risk"] > finn["defection_risk"]
    # each reason carries its own push, strongest first: the rank is explained by its evidence
    pushes = [float(r.rsplit("[+", 1)[1].rstrip("]")) for r in erin["risk_reasons"]]
    assert pushes == sorted(pushes, reverse=True) and all(p > 0 for p in pushes)
    assert any("trust at -" in r for r in erin["risk_reasons"])  # the trust outcome, with its call
    assert not any("trust at -" in r for r in finn["risk_reasons"])
