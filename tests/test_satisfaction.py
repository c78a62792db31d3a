"""Predicted satisfaction: the shipped model on held-out STC-3 dialogues, the stage on
transcripts, and `wocas calibrate` against survey answers (STC-3's own annotator means)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from wocas.analytics.calibration import SurveyError, apply_mapping, calibrate, read_surveys
from wocas.cli import main
from wocas.io.ingest import transcript_to_call
from wocas.models.text_encoder import TextEncoder
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
    predicted = model.text_s(lex, emb_mean, emb_last)
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
        assert len(s.drivers) == 3 and all(d[0] in "+-" for d in s.drivers)
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
    assert any("threatened to leave" in d for d in with_facts.satisfaction.drivers)
    assert with_repeat.satisfaction.score < base.satisfaction.score


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
    surveys.write_text("call_id,score\n" + "".join(f"{c},{s}\n" for c, s in answers) + "not-a-call,4\n")
    return out, surveys


def test_calibrate_reports_agreement_and_refits(surveyed):
    out, surveys = surveyed
    with Store(out / "wocas.duckdb") as store:
        report = calibrate(store, surveys)
    assert report.n_matched == 12 and report.unmatched == ["not-a-call"]
    assert report.scale == (1.0, 5.0)
    assert report.spearman is not None and report.spearman > 0.3
    assert 0.0 <= report.mae < 2.0
    assert sum(sum(row.values()) for row in report.confusion.values()) == 12
    xs = np.linspace(1, 5, 9)
    mapped = apply_mapping(xs, report.mapping)
    assert np.all(np.diff(mapped) >= 0)  # a monotone mapping onto the survey scale
    assert report.mae_refit_cv is not None


def test_calibrate_cli_writes_and_stores_the_report(surveyed, capsys):
    out, surveys = surveyed
    assert main(["calibrate", "--surveys", str(surveys), "--out", str(out)]) == 0
    assert "Spearman" in capsys.readouterr().out
    report = json.loads((out / "calibration" / "report.json").read_text())
    assert report["n_matched"] == 12
    assert (out / "calibration" / "mapping.json").exists()
    with Store(out / "wocas.duckdb", read_only=True) as store:
        assert store.query("SELECT count(*) AS n FROM satisfaction_calibrations")[0]["n"] >= 1


def test_bad_survey_files_are_refused_with_the_line(tmp_path, surveyed):
    out, _ = surveyed
    bad = tmp_path / "bad.csv"
    bad.write_text("call_id,score\nabc,very good\n")
    with pytest.raises(SurveyError, match=r"bad.csv:2: score 'very good' for call abc is not a number"):
        read_surveys(bad)
    assert main(["calibrate", "--surveys", str(bad), "--out", str(out)]) == 2
    no_header = tmp_path / "no_header.csv"
    no_header.write_text("abc,4\n")
    with pytest.raises(SurveyError, match="call_id and score"):
        read_surveys(no_header)
