"""Predicted satisfaction: the shipped models on held-out STC-3 dialogues, the stage on
transcripts, and `wocas calibrate` against survey answers (STC-3's own annotator means): its
refusals, and its refit read by every reader of one store."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from wocas.analytics.calibration import SurveyError, calibrate, read_surveys
from wocas.cli import main
from wocas.io.ingest import transcript_to_call
from wocas.models.text_encoder import TextEncoder
from wocas.satisfaction import call_model as cm
from wocas.satisfaction.model import LEXICAL_FEATURES, embed_dialogues, lexical_features, load_model
from wocas.schema import Signal, Trajectory
from wocas.stages.metrics import MetricsStage
from wocas.stages.satisfaction import SatisfactionStage
from wocas.store import Store

STC3 = "text/stc3_customer_helpdesk/train_data_en.json"


@pytest.fixture(scope="module")
def heldout(data_dir):
    """Held-out STC-3 dialogues (never seen in training) with their mean annotator S."""
    from scripts.train_satisfaction import load_stc3

    dialogues, mean_s, _ = load_stc3(data_dir)
    ids = set(load_model().params["training"]["holdout_ids"])
    keep = [i for i, d in enumerate(dialogues) if d.dialogue_id in ids]
    assert len(keep) == len(ids) > 100
    return [dialogues[i] for i in keep], mean_s[keep]


def test_shipped_model_ranks_heldout_stc3_like_the_annotators(heldout):
    dialogues, truth = heldout
    dialogues, truth = dialogues[:80], truth[:80]  # a stable enough figure, quick on 2 cores (all: benchmarks/)
    model = load_model()
    lex = np.array([[lexical_features(d)[k] for k in LEXICAL_FEATURES] for d in dialogues])
    emb_mean, emb_last = embed_dialogues(dialogues, TextEncoder(model.encoder))
    predicted = model.text_s(lex, emb_mean, emb_last, dialogues)
    assert spearmanr(predicted, truth).statistic >= 0.60


def _transcript(call_id, turns, **extra):
    return transcript_to_call({"call_id": call_id, "customer_id": "c", **extra,
                               "turns": [{"speaker": r, "text": t} for r, t in turns]}, "test", call_id)


HAPPY = [("agent", "Hello, how can I help?"), ("customer", "Hi, can you reset my password please?"),
         ("agent", "Done, you'll get an email now."), ("customer", "Got it, that works. Thanks so much!")]
ANGRY = [("agent", "Hello, how can I help?"),
         ("customer", "This is the third time I'm calling about the same broken router. Useless!"),
         ("agent", "I'm sorry, there's nothing more I can do today."),
         ("customer", "Unbelievable. I'm cancelling my contract and going elsewhere.")]


@pytest.fixture(scope="module")
def stage():
    return SatisfactionStage()


def _score(stage, calls):
    return stage.process_batch([MetricsStage().process_call(c) for c in calls])


def test_stage_scores_a_happy_call_above_an_angry_one(stage):
    happy, angry = _score(stage, [_transcript("happy", HAPPY), _transcript("angry", ANGRY)])
    for call in (happy, angry):
        s = call.satisfaction
        assert 1.0 <= s.score <= 5.0 and 0.0 <= s.p_satisfied <= 1.0 and 0.0 <= s.confidence <= 1.0
        assert 1 <= len(s.drivers) <= 3 and all(d[0] in "+-" for d in s.drivers)
        assert s.model == cm.load_call_model().version and "text_s" in s.features
    assert happy.satisfaction.score > 3.5 > angry.satisfaction.score
    assert happy.satisfaction.p_satisfied > 0.5 > angry.satisfaction.p_satisfied


def test_call_facts_move_the_score_and_the_confidence(stage):
    plain = _transcript("plain", ANGRY)
    signals = (Signal(kind="threat_to_leave", strength=0.9, turn_index=3, quote="I'm cancelling my contract"),
               Signal(kind="unresolved_end", strength=0.8, turn_index=2, quote="nothing more I can do"))
    trajectory = Trajectory(role="customer", opening=-0.6, closing=-0.8, turnaround=-0.2, lowest=-0.8,
                            lowest_at=15.0, shape="steady-negative")
    informed = plain.replace(signals=signals, trajectories={"customer": trajectory},
                             timings={"signals": 0.01, "trajectory": 0.01})
    repeat = _transcript("repeat", ANGRY, repeat_contact=True)
    base, with_facts, with_repeat = _score(stage, [plain, informed, repeat])
    assert with_facts.satisfaction.score < base.satisfaction.score
    assert with_facts.satisfaction.confidence > base.satisfaction.confidence
    assert any("left unresolved" in d for d in with_facts.satisfaction.drivers)
    assert with_repeat.satisfaction.score < base.satisfaction.score


def test_the_shipped_call_model_is_fitted_with_the_expected_signs():
    model = cm.load_call_model()
    fitted = dict(zip(cm.CALL_FEATURES, model.params["fitted"]))
    assert fitted["text_s"] and fitted["trust_lowest"] and fitted["signal:unresolved_end"]
    assert not fitted["holds"] and not fitted["handle_excess"]  # STC-3 has no times: priors until a refit
    for name, w in zip(cm.CALL_FEATURES, model.weight):
        assert w * cm.SIGNS.get(name, 1.0) >= 0, name
    assert model.weight[cm.CALL_FEATURES.index("text_s")] > 0.2  # the words carry most of STC-3's signal


def test_a_call_with_no_turns_gets_no_prediction(stage):
    empty = _transcript("x", HAPPY).replace(turns=())
    assert stage.process_batch([empty])[0].satisfaction is None


# ---- calibrate ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def surveyed(heldout, tmp_path_factory):
    """12 held-out STC-3 dialogues run through `wocas run`; their annotators' mean S + 3 is the survey."""
    dialogues, truth = heldout
    tmp = tmp_path_factory.mktemp("calibrate")
    short = np.array([i for i, d in enumerate(dialogues) if len(d.turns) <= 3])  # quick to run
    picks = short[np.argsort(truth[short])][np.linspace(0, len(short) - 1, 12).astype(int)]  # the whole range
    lines, answers = [], []
    for i in picks:
        d = dialogues[i]
        lines.append(json.dumps({"call_id": f"stc3-{d.dialogue_id}", "customer_id": f"cust-{i}",
                                 "turns": [{"speaker": r, "text": t} for r, t in d.turns]}))
        answers.append((f"stc3-{d.dialogue_id}", round(float(truth[i]) + 3, 2)))
    (tmp / "calls.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp / "out"
    assert main(["run", str(tmp / "calls.jsonl"), "--out", str(out), "--quiet"]) == 0
    surveys = tmp / "surveys.csv"
    surveys.write_text("call_id,score\n" + "".join(f"{c},{s}\n" for c, s in answers))
    return out, surveys


def test_calibrate_reports_agreement_and_refits(surveyed):
    out, surveys = surveyed
    with Store(out / "wocas.duckdb") as store:
        report = calibrate(store, surveys)
    assert report.n_matched == 12 and report.unmatched == []
    assert report.scale == (1.0, 5.0)
    assert report.spearman is not None and report.spearman > 0.3
    assert 0.0 <= report.mae < 2.0
    assert sum(sum(row.values()) for row in report.confusion.values()) == 12
    assert report.refit is not None and report.refit["refit"]["n"] == 12
    assert report.mae_refit_cv is not None and report.mae_model_cv is not None


def test_calibrate_cli_writes_and_stores_the_report(surveyed, capsys):
    out, surveys = surveyed
    assert main(["calibrate", "--surveys", str(surveys), "--out", str(out)]) == 0
    assert "Spearman" in capsys.readouterr().out
    report = json.loads((out / "calibration" / "report.json").read_text())
    assert report["n_matched"] == 12
    assert json.loads((out / "calibration" / "satisfaction-model.json").read_text())["refit"]["n"] == 12
    with Store(out / "wocas.duckdb", read_only=True) as store:
        assert store.query("SELECT count(*) AS n FROM satisfaction_calibrations")[0]["n"] >= 1


def _scores(out):
    with Store(out / "wocas.duckdb", read_only=True) as store:
        return {r["call_id"]: (r["satisfaction_score"], r["p_satisfied"]) for r in
                store.query("SELECT call_id, satisfaction_score, p_satisfied FROM calls ORDER BY call_id")}


def test_bad_survey_files_are_refused_with_the_rows_named(tmp_path, surveyed, capsys):
    out, surveys = surveyed
    before = _scores(out)
    with Store(out / "wocas.duckdb", read_only=True) as store:
        rows_before = store.query("SELECT count(*) AS n FROM satisfaction_calibrations")[0]["n"]
    bad = tmp_path / "bad.csv"
    bad.write_text("call_id,score\nabc,very good\n")
    with pytest.raises(SurveyError, match=r"bad.csv:2: score 'very good' for call abc is not a number"):
        read_surveys(bad)
    assert main(["calibrate", "--surveys", str(bad), "--out", str(out)]) == 2
    no_header = tmp_path / "no_header.csv"
    no_header.write_text("abc,4\n")
    with pytest.raises(SurveyError, match="call_id and score"):
        read_surveys(no_header)
    good = surveys.read_text().splitlines()[1:]
    wrong = tmp_path / "wrong.csv"  # two unknown calls and two scores off the 1-5 scale among good rows
    wrong.write_text("call_id,score\n" + "\n".join(good[:3] + ["not-a-call,4", good[3].split(",")[0] + ",7",
                                                              "also-unknown,2", good[4].split(",")[0] + ",0"]
                                                   + good[5:]) + "\n")
    capsys.readouterr()
    assert main(["calibrate", "--surveys", str(wrong), "--out", str(out / "w"), "--store", str(out / "wocas.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "wrong.csv:6: score '7'" in err and "wrong.csv:8: score '0'" in err and "outside the scale 1-5" in err
    with Store(out / "wocas.duckdb") as store:
        with pytest.raises(SurveyError) as unknown:
            calibrate(store, _unknown(tmp_path, good))
    assert "unknown.csv:5: call not-a-call has no predicted satisfaction" in str(unknown.value)
    assert "unknown.csv:7: call also-unknown" in str(unknown.value)
    assert not (out / "w" / "calibration").exists()  # nothing written
    with Store(out / "wocas.duckdb", read_only=True) as store:
        assert store.query("SELECT count(*) AS n FROM satisfaction_calibrations")[0]["n"] == rows_before
    assert _scores(out) == before


def _unknown(tmp_path, good):
    path = tmp_path / "unknown.csv"
    path.write_text("call_id,score\n" + "\n".join(good[:3] + ["not-a-call,4", good[3], "also-unknown,2"]) + "\n")
    return path


def test_a_refit_is_read_by_the_stage_the_report_the_app_and_customers(surveyed, tmp_path):
    """One store: after `wocas calibrate`, every reader shows the refitted scores."""
    from fastapi.testclient import TestClient

    from wocas.review import create_app

    out, surveys = surveyed
    before = _scores(out)
    assert main(["report", "--out", str(out)]) == 0
    helped_before = sum(r["helped"] for r in json.loads((out / "report" / "report.json").read_text())["customers"])
    delighted = tmp_path / "delighted.csv"  # this centre's customers rate every call 5
    delighted.write_text("call_id,score\n" + "".join(f"{line.split(',')[0]},5\n"
                                                     for line in surveys.read_text().splitlines()[1:]))
    assert main(["calibrate", "--surveys", str(delighted), "--out", str(out)]) == 0
    refit = json.loads((out / "calibration" / "satisfaction-model.json").read_text())
    model = cm.CallModel(refit)
    after = _scores(out)
    with Store(out / "wocas.duckdb", read_only=True) as store:
        records = {c: store.load(c) for c in after}
    for call_id, (score, p) in after.items():  # the store: every prediction rescored from its features
        sat = records[call_id].satisfaction
        expected = model.predict(dict(sat.features))
        assert sat.model == refit["version"] and score == sat.score == pytest.approx(expected.score, abs=1e-3)
        assert p == pytest.approx(expected.p_satisfied, abs=1e-4)
    assert np.mean([a[0] for a in after.values()]) > np.mean([b[0] for b in before.values()]) + 0.3
    with Store(out / "wocas.duckdb", read_only=True) as store:  # the band and the flag that reads it follow
        stored = {r["call_id"]: r for r in store.query("SELECT call_id, satisfaction_band, p_satisfied, flags FROM calls")}
    for call_id, rec in records.items():
        sat = rec.satisfaction
        assert stored[call_id]["satisfaction_band"] == sat.band == model.band(sat.score, dict(sat.features))
        low = sat.band == "low" or sat.p_satisfied < 0.35
        assert ("low_satisfaction" in stored[call_id]["flags"]) == low
        assert ("low_satisfaction" in [f.kind for f in rec.flags]) == low
    # wocas customers
    assert main(["customers", "--out", str(out)]) == 0
    import csv

    rows = list(csv.DictReader((out / "customers" / "customers.csv").open()))
    by_customer = {r["customer_id"]: float(r["satisfaction_last"]) for r in rows}
    for call_id, rec in records.items():
        assert by_customer[rec.call.customer_id] == pytest.approx(after[call_id][0], abs=1e-6)
    # the report
    assert main(["report", "--out", str(out)]) == 0
    helped = sum(r["helped"] for r in json.loads((out / "report" / "report.json").read_text())["customers"])
    assert helped > helped_before
    # the review app (reads the snapshot calibrate published)
    call_id = max(after, key=lambda c: after[c][0] - before[c][0])
    client = TestClient(create_app(out / "wocas.duckdb", "s3cret-token-for-tests", allowed_hosts=("testserver",)))
    client.post("/login", data={"reviewer": "alice", "token": "s3cret-token-for-tests", "next": "/"})
    page = client.get(f"/calls/{call_id}").text
    assert f"<b>{after[call_id][0]:.1f}/5</b>" in page
    # the stage on a later run into the same store
    dialogue = records[call_id]
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps({"call_id": "later-1", "customer_id": "cust-later",
                                 "turns": [{"speaker": t.role, "text": t.text} for t in dialogue.turns]}) + "\n")
    assert main(["run", str(later), "--out", str(out), "--quiet"]) == 0
    with Store(out / "wocas.duckdb", read_only=True) as store:
        new = store.load("later-1").satisfaction
    assert new.model == refit["version"]
    assert new.score == pytest.approx(model.predict(dict(new.features)).score, abs=1e-3)


def test_the_registry_pins_the_shipped_satisfaction_files():
    import hashlib
    import tomllib

    from wocas.models.registry import MODELS_DIR

    registry = tomllib.loads((MODELS_DIR / "registry.toml").read_text())["models"]
    for name in ("satisfaction-text", "satisfaction-call"):
        spec = registry[name]
        assert hashlib.sha256((MODELS_DIR / spec["path"]).read_bytes()).hexdigest() == spec["sha256"], name


def test_the_text_model_adds_its_words_and_asks_for_them(heldout):
    """The shipped text model reads the dialogue's words too: text_s and text_contributions agree on
    them, a words block built here moves S by exactly its weights, and leaving the dialogues out of a
    model that reads words is an error, not a silent drop."""
    from wocas.satisfaction.model import SatisfactionModel
    from wocas.text.lexical import Vocabulary, thirds_terms

    dialogues = heldout[0][:6]
    model = load_model()
    assert model.w_words is not None and len(model.words_vocabulary.terms) > 1000
    lex_rows = [lexical_features(d) for d in dialogues]
    lex = np.array([[row[k] for k in LEXICAL_FEATURES] for row in lex_rows])
    emb_mean, emb_last = embed_dialogues(dialogues, TextEncoder(model.encoder))
    s = model.text_s(lex, emb_mean, emb_last, dialogues)
    one = [model.text_contributions(row, m, last, d)[0] for row, m, last, d in zip(lex_rows, emb_mean, emb_last, dialogues)]
    np.testing.assert_allclose(s, one, atol=1e-4)
    with pytest.raises(ValueError, match="also reads the words"):
        model.text_s(lex, emb_mean, emb_last)

    params = {k: v for k, v in model.params.items() if k != "words"}
    plain = SatisfactionModel(params)
    docs = [thirds_terms(d.turns) for d in dialogues]
    vocabulary = Vocabulary.fit(docs)
    coef = np.random.default_rng(0).normal(size=len(vocabulary.terms))
    tiny = SatisfactionModel({**params, "words": {"terms": list(vocabulary.terms), "idf": vocabulary.idf.tolist(),
                                                  "coef": coef.tolist(), "center": 0.25}})
    moved = tiny.text_s(lex, emb_mean, emb_last, dialogues) - plain.text_s(lex, emb_mean, emb_last)
    np.testing.assert_allclose(moved, vocabulary.vectors(docs) @ coef - 0.25, atol=1e-4)
