"""The taxonomy, the calibrated classifiers, discovery of emerging reasons, the run summary."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import numpy as np
import pytest

from wocas.models.text_encoder import TextEncoder
from wocas.reasons.classify import ExampleClassifier, HeadClassifier
from wocas.reasons.clustering import discover_reasons, reasons_summary
from wocas.reasons.taxonomy import OTHER, TaxonomyError, load_taxonomy
from wocas.reasons.training import save_head, train_head
from wocas.schema import Call, CallAnalysis, Job
from wocas.store import Store
from wocas.text.utterance import parse_utterance


ENCODER = TextEncoder()  # the default shared encoder (minilm, onnx-int8)


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy("contact-reasons")


@pytest.fixture(scope="module")
def classifier(taxonomy):
    return ExampleClassifier(taxonomy, ENCODER, other_threshold=0.35)


def test_default_taxonomy(taxonomy) -> None:
    assert len(taxonomy.reasons) >= 30
    owners = {r.owner for r in taxonomy.reasons}
    assert {"billing", "logistics", "product", "IT", "policy", "sales", "account"} <= owners
    assert any(r.preventable for r in taxonomy.reasons) and not all(r.preventable for r in taxonomy.reasons)
    assert all(len(r.examples) >= 3 for r in taxonomy.reasons)


def test_bad_taxonomy_names_file_and_reason(tmp_path) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text('[[reason]]\nid = "a"\nexamples = ["x"]\n[[reason]]\nid = "a"\nexamples = ["y"]\n')
    with pytest.raises(TaxonomyError, match=r"t\.toml.*reason #2.*appears twice"):
        load_taxonomy(str(bad))
    bad.write_text('[[reason]]\nid = "billing"\ndescription = "no examples"\n')
    with pytest.raises(TaxonomyError, match="billing.*example"):
        load_taxonomy(str(bad))


def test_known_utterances_and_calibrated_confidence(classifier) -> None:
    texts = ["where is my refund, it still hasn't come through", "the app crashes every time I open it",
             "I lost my wallet with my card in it", "what's the exchange rate for euros",
             "can we talk about the football score from last night"]
    preds = classifier.predict(texts, ENCODER.encode(texts))
    assert [p.reason for p in preds[:4]] == ["refund_not_received", "app_or_website_error", "lost_or_stolen",
                                             "exchange_rate_query"]
    assert preds[4].reason == OTHER and preds[4].best != OTHER
    assert all(0.0 <= p.confidence <= 1.0 for p in preds)
    assert min(p.confidence for p in preds[:4]) > preds[4].confidence


def test_asr_normalisation() -> None:
    utt = parse_utterance("Um, I I wanna, uh, CANCEL... it's the 2nd time!")
    assert utt.text == "i want to cancel its the second time"
    assert utt.words[utt.origin[3]] == "CANCEL..."


def test_discovery_of_emerging_reasons() -> None:
    statements = [
        "my dog's vet bill claim on the pet insurance was rejected",
        "the pet insurance won't pay the vet for my cat",
        "I claimed for my dog's vet treatment on the pet policy and heard nothing",
        "how much do you pay for electricity my solar panels export",
        "the solar panel export payments stopped this quarter",
        "my solar panels export tariff hasn't been paid",
        "I want to ask about the parking at your head office",
    ]
    found = discover_reasons(statements, min_count=2)
    assert [e.count for e in found] == [3, 3]
    labels = " ".join(e.label for e in found)
    assert "pet" in labels and "solar" in labels
    for e in found:
        assert len(e.examples) == 3 and set(e.examples) <= set(statements)
    assert 6 not in {i for e in found for i in e.members}


def test_head_trained_on_real_data(tmp_path, data_dir) -> None:
    rows = list(csv.DictReader((data_dir / "text/banking77/train.csv").open()))
    keep = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "terminate_account", "request_refund"]
    per: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["category"] in keep and len(per[r["category"]]) < 25:
            per[r["category"]].append(r["text"])
    texts = [t for k in keep for t in per[k][:20]]
    labels = [k for k in keep for _ in per[k][:20]]
    held = [(t, k) for k in keep for t in per[k][20:]]
    save_head(tmp_path / "head", train_head(texts, labels, ENCODER.encode(texts), lexical=True, C=10.0),
              {"name": "t", "reason_map": {"card_arrival": "card_delivery"}})
    head = HeadClassifier(tmp_path / "head", ENCODER)
    preds = head.predict([t for t, _ in held], ENCODER.encode([t for t, _ in held]))
    expected = [{"card_arrival": "card_delivery"}.get(k, k) for _, k in held]
    assert np.mean([p.reason == e for p, e in zip(preds, expected)]) >= 0.8


def test_reasons_summary_over_the_store(tmp_path) -> None:
    def call(i: int, reason: str, preventable: bool, owner: str, statement: str) -> CallAnalysis:
        job = Job(statement=statement, phrase=statement.lower(), reason=reason, reason_confidence=0.6,
                  preventable=preventable, owner=owner, turn_index=1)
        return CallAnalysis(call=Call(call_id=f"c{i}", source=f"c{i}.json", kind="transcript"), jobs=(job,),
                            contact_reason=reason, preventable=preventable)

    calls = [call(0, "double_charge", True, "billing", "I was charged twice"),
             call(1, "double_charge", True, "billing", "the payment went out two times"),
             call(2, "update_personal_details", False, "account", "I've moved house"),
             call(3, OTHER, False, None, "the pet insurance won't pay my vet bill"),
             call(4, OTHER, False, None, "my dog's vet claim on the pet insurance was refused")]
    with Store(tmp_path / "w.duckdb") as store:
        store.write(calls, "r1", "v1")
        summary = reasons_summary(store, "r1")
    assert summary["calls"] == 5 and summary["share_preventable"] == pytest.approx(0.4)
    top = summary["reasons"][0]
    assert (top["reason"], top["calls"], top["share_preventable"], top["owner"]) == ("double_charge", 2, 1.0, "billing")
    assert "I was charged twice" in top["examples"]
    [emerging] = summary["emerging"]
    assert emerging["count"] == 2 and "pet" in emerging["label"]
    from wocas.cli import main

    assert main(["reasons", "--out", str(tmp_path), "--store", str(tmp_path / "w.duckdb"), "--run", "r1"]) == 0
    written = (tmp_path / "reasons.md").read_text()
    assert "double_charge" in written and "Emerging reasons" in written
    assert json.loads((tmp_path / "reasons.json").read_text())["calls"] == 5


def test_wocas_train_intents(tmp_path) -> None:
    from wocas.cli import main

    rows = [("where is my parcel", "delivery"), ("my order has not arrived", "delivery"),
            ("the courier never came", "delivery"), ("I want my money back", "refund"),
            ("please refund me", "refund"), ("can I get a refund for this", "refund")]
    data = tmp_path / "train.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *rows])
    assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "head"), "--no-lexical"]) == 0
    head = HeadClassifier(tmp_path / "head", ENCODER)
    texts = ["my parcel still hasn't turned up", "I'd like a refund please"]
    assert [p.reason for p in head.predict(texts, ENCODER.encode(texts))] == ["delivery", "refund"]
    assert (tmp_path / "head" / "README.md").exists()


def test_train_intents_chooses_the_mix_by_cross_validation_on_train_only(tmp_path, data_dir) -> None:
    from wocas.cli import main
    from wocas.reasons.training import MIX_GRID, choose_mix

    rows = list(csv.DictReader((data_dir / "text/banking77/train.csv").open()))
    keep = {"card_arrival", "exchange_rate", "terminate_account", "request_refund", "top_up_failed", "pin_blocked"}
    picked = [r for r in rows if r["category"] in keep][:240]
    texts, labels = [r["text"] for r in picked], [r["category"] for r in picked]
    choice = choose_mix(texts, labels, ENCODER.encode(texts), C=10.0, folds=3)
    assert set(choice.accuracy) == set(MIX_GRID) and all(0.5 < a <= 1.0 for a in choice.accuracy.values())
    assert choice.accuracy[choice.mix] == max(choice.accuracy.values())
    data = tmp_path / "train.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *zip(texts, labels)])
    assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "head"), "--C", "10"]) == 0
    meta = json.loads((tmp_path / "head" / "head.json").read_text())
    assert meta["mix"] in MIX_GRID and meta["encoder_backend"] == "onnx-int8"
    assert "5-fold cross-validation" in (tmp_path / "head" / "README.md").read_text()
    assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "fixed"), "--mix", "0.55"]) == 0
    assert json.loads((tmp_path / "fixed" / "head.json").read_text())["mix"] == 0.55


def test_a_head_stores_an_other_threshold_chosen_without_out_of_scope_texts(tmp_path, data_dir) -> None:
    from wocas.reasons.training import OTHER_KEEP, choose_mix

    keep = {"card_arrival", "exchange_rate", "terminate_account", "request_refund", "top_up_failed", "pin_blocked"}

    def rows(split: str, per_label: int):
        picked = defaultdict(list)
        for r in csv.DictReader((data_dir / f"text/banking77/{split}.csv").open()):
            if r["category"] in keep and len(picked[r["category"]]) < per_label:
                picked[r["category"]].append(r["text"])
        return [t for ts in picked.values() for t in ts], [label for label, ts in picked.items() for _ in ts]

    texts, labels = rows("train", 40)
    vectors = ENCODER.encode(texts)
    choice = choose_mix(texts, labels, vectors, C=10.0, folds=3, grid=(0.7,))
    assert choice.other["keep"] == OTHER_KEEP and choice.other["n"] == len(texts) and 0 < choice.other["threshold"] < 1
    save_head(tmp_path / "head", train_head(texts, labels, vectors, C=10.0, mix=0.7, other=choice.other), {"name": "t"})
    assert json.loads((tmp_path / "head" / "head.json").read_text())["other_threshold"] == choice.other["threshold"]
    head = HeadClassifier(tmp_path / "head", ENCODER)  # inference reads the stored threshold
    assert head.other_threshold == choice.other["threshold"]
    test_texts, _ = rows("test", 20)
    predictions = head.predict(test_texts, ENCODER.encode(test_texts))
    in_scope_kept = np.mean([p.reason != OTHER for p in predictions])
    assert in_scope_kept >= 0.85, in_scope_kept  # unseen in-scope texts mostly keep their intent
    off_topic = ["what's the weather like in paris tomorrow", "tell me a joke about penguins",
                 "how long should I boil an egg", "who won the football last night", "play some jazz music"]
    answers = [p.reason for p in head.predict(off_topic, ENCODER.encode(off_topic))]
    assert answers.count(OTHER) >= 4, answers
    never = HeadClassifier(tmp_path / "head", ENCODER, other_threshold=0.0)  # [jobs] other_threshold overrides it
    assert all(p.reason != OTHER for p in never.predict(off_topic, ENCODER.encode(off_topic)))
