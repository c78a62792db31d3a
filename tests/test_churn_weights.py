"""The defection risk's weights: hand-set constants or a fitted JSON file, the noisy-OR kept, each
reason with its push; the maximum-likelihood fit recovers weights it generated."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wocas.analytics.customers import (HAND_SET_WEIGHTS, WEIGHTS_KIND, RiskInputs, defection_risk, load_weights,
                                       raw_values, risk_factors)
from wocas.analytics.risk_fit import fit_weights, noisy_or
from wocas.config import load_config
from wocas.errors import ModelError

EVERY_FACTOR = RiskInputs(
    signals=[
        {"kind": "cancel_intent", "strength": 0.8, "p_satisfied": 0.5, "quote": "I'm cancelling", "call_id": "c1"},
        {"kind": "cancel_intent", "strength": 0.4, "p_satisfied": None, "quote": "maybe cancel", "call_id": "c0"},
        {"kind": "complaint", "strength": 1.0, "p_satisfied": None, "quote": "this is awful", "call_id": "c1"},
    ],
    repeats=[{"same": ["billing"]}, {"same": []}], open_jobs=["billing", "refund", "address"],
    p_satisfied_last=0.2, satisfaction_last=2.1, emotion_trend=-0.4, preventable_contacts=3,
    unlogged_complaint=True,
    last_outcome={"resolution": "customer_gave_up", "confidence": 0.9, "quote": "forget it", "call_id": "c2",
                  "trust_closing": -0.5, "shape": "deteriorated"},
)
# The pushes the hand-set constants gave before the weights were named (the old formulas, written out).
HAND_SET_PUSHES = {
    "signal:cancel_intent": 0.5 * 0.8 * (1 - 0.5 * 0.5), "signal:complaint": 0.25 * 1.0,
    "repeats": min(0.6, 0.2 * 2), "open_jobs": min(0.4, 0.2 * 3), "dissatisfied": 0.3 * (1 - 0.2),
    "emotion_trend": min(0.3, 0.5 * 0.4), "preventable": min(0.2, 0.1 * 3), "unlogged_complaint": 0.15,
    "outcome:customer_gave_up": 0.35 * 0.9, "trust_outcome": 0.3 * 0.5 * 1.0,
}


def _weights_file(path, weights):
    path.write_text(json.dumps({"kind": WEIGHTS_KIND, "version": 1, "weights": weights}))
    return path


def test_the_empty_setting_gives_exactly_the_hand_set_risk():
    config = load_config(overrides={"customers": {"risk_weights": ""}})
    weights = load_weights(config.customers.risk_weights)
    assert weights == HAND_SET_WEIGHTS
    factors = risk_factors(EVERY_FACTOR, weights)
    assert {f.name: f.push for f in factors} == pytest.approx(HAND_SET_PUSHES, abs=1e-12)
    risk, _ = defection_risk(factors)
    assert risk == round(1 - float(np.prod([1 - p for p in HAND_SET_PUSHES.values()])), 4)


def test_a_weights_file_loads_by_path(tmp_path):
    fitted = {name: round(w / 2, 3) for name, w in HAND_SET_WEIGHTS.items()}
    path = _weights_file(tmp_path / "weights.json", fitted)
    assert load_weights(str(path)) == fitted
    config = load_config(overrides={"customers": {"risk_weights": str(path)}})
    assert load_weights(config.customers.risk_weights) == fitted


def test_fitted_weights_keep_the_noisy_or_and_each_reason_with_its_push(tmp_path):
    fitted = {name: 0.0 for name in HAND_SET_WEIGHTS} | {"signal:cancel_intent": 0.9, "trust_outcome": 0.6,
                                                          "outcome:customer_gave_up": 0.4, "dissatisfied": 0.05}
    weights = load_weights(str(_weights_file(tmp_path / "w.json", fitted)))
    factors = risk_factors(EVERY_FACTOR, weights)
    raw = raw_values(EVERY_FACTOR)
    for f in factors:
        assert f.push == pytest.approx(weights[f.name] * raw[f.name])
    risk, reasons = defection_risk(factors)
    assert risk == round(1 - float(np.prod([1 - f.push for f in factors])), 4)
    pushes = [float(r.rsplit("[+", 1)[1].rstrip("]")) for r in reasons]
    assert pushes == sorted(pushes, reverse=True)
    assert len(reasons) == 4  # the factors weighed 0 push nothing and are not listed
    assert reasons[0].startswith('asked to cancel (call c1): "I\'m cancelling"') and reasons[0].endswith("[+0.54]")
    assert any(r.startswith("last contact ended customer gave up (call c2)") for r in reasons)
    assert any(r.startswith("last contact closed with the customer's trust at -0.50") for r in reasons)


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere" / "weights.json"
    with pytest.raises(ModelError, match="nowhere/weights.json"):
        load_weights(str(missing))
    with pytest.raises(Exception, match="risk_weights"):
        load_config(overrides={"customers": {"risk_weights": str(missing)}})


@pytest.mark.parametrize("text, why", [
    ("{not json", "cannot be read as JSON"),
    (json.dumps({"weights": dict(HAND_SET_WEIGHTS)}), "not a churn-risk-weights file"),
    (json.dumps({"kind": WEIGHTS_KIND, "weights": {"repeats": 0.1}}), "missing \\[.dissatisfied."),
    (json.dumps({"kind": WEIGHTS_KIND, "weights": dict(HAND_SET_WEIGHTS) | {"repeats": 1.7}}), "in \\[0, 1\\]"),
])
def test_a_damaged_file_is_an_error_naming_it(tmp_path, text, why):
    path = tmp_path / "damaged.json"
    path.write_text(text)
    with pytest.raises(ModelError, match=f"risk weights {path}.*{why}"):
        load_weights(str(path))


def test_the_fit_recovers_the_weights_it_generated():
    rng = np.random.default_rng(0)
    true = np.array([0.6, 0.3, 0.1])
    X = rng.random((2000, 3)) * (rng.random((2000, 3)) < 0.5)
    left = (rng.random(2000) < noisy_or(X, true)).astype(float)
    fitted = fit_weights(X, left, prior=np.zeros(3))
    assert np.abs(fitted - true).max() < 0.05
    assert ((fitted >= 0) & (fitted <= 0.95)).all()


def test_the_shipped_weights_are_the_default_pinned_and_in_range():
    from wocas.models import registry

    assert load_config().customers.risk_weights == "churn-risk"
    registry.verify("churn-risk")  # the file matches its sha256 pin
    weights = load_weights("churn-risk")
    assert set(weights) == set(HAND_SET_WEIGHTS) and all(0.0 <= w <= 0.95 for w in weights.values())
    assert weights != HAND_SET_WEIGHTS
