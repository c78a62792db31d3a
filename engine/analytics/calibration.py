"""Checking predicted satisfaction against a centre's real survey answers, and refitting the
satisfaction call model on them.

``wocas calibrate --surveys FILE --out DIR`` reads (call_id, score) pairs (CSV with a header,
or JSONL), joins them to the predictions in the store, and reports Spearman's rho, the mean
absolute error on the survey's scale, and the confusion of satisfied / neutral / dissatisfied.
A file naming a call the store has no prediction for, or a score outside the scale, is refused
whole, with its rows named, and nothing is written.

With enough answers it refits the call model (``call_model.refit``: the shipped weights, moved
only as far as the surveys support) from the features stored with each prediction, reports the
refit's cross-validated error beside the model's, and stores it: a row in the store's
``satisfaction_calibrations`` table (the model in ``mapping``), every stored prediction rescored
with it, and ``satisfaction-model.json`` beside the report. Later runs on the store use it
(:func:`with_stored_refit`), so the stage, the report, the review app and ``wocas customers``
all read the refitted scores.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from wocas.config import FlagsConfig
from wocas.errors import UsageError
from wocas.store import Store, queries

log = logging.getLogger(__name__)

CLASSES = ("dissatisfied", "neutral", "satisfied")
MIN_REFIT = 10  # fewer answers than this: report only, no refit


class SurveyError(UsageError, ValueError):
    pass


@dataclass(frozen=True)
class Survey:
    call_id: str
    score: float
    where: str = ""  # file:line


@dataclass
class CalibrationReport:
    surveys: str
    n_surveys: int
    n_matched: int
    unmatched: list[str]
    scale: tuple[float, float]
    spearman: float | None
    mae: float | None  # our score mapped linearly onto the survey scale
    confusion: dict[str, dict[str, int]]  # survey class -> predicted class -> count
    accuracy_3class: float | None
    refit: dict[str, Any] | None = None  # the refitted call model's params
    mae_model_cv: float | None = None  # the model before the refit, on the same folds' test calls
    mae_refit_cv: float | None = None  # 5-fold cross-validated MAE of the refit on the survey scale
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        lines = [f"# Satisfaction calibration against {self.surveys}", "",
                 f"- surveys: {self.n_surveys}, matched to calls in the store: {self.n_matched}",
                 f"- survey scale: {self.scale[0]:g}-{self.scale[1]:g}",
                 f"- Spearman rho: {_fmt(self.spearman)}",
                 f"- mean absolute error (linear map onto the scale): {_fmt(self.mae)}",
                 f"- 3-class accuracy: {_fmt(self.accuracy_3class)}"]
        if self.refit is not None:
            lines.append(f"- refitted call model {self.refit['version']}: 5-fold cross-validated MAE "
                         f"{_fmt(self.mae_refit_cv)} (the model before the refit: {_fmt(self.mae_model_cv)})")
        lines += ["", "| survey \\ predicted | " + " | ".join(CLASSES) + " |", "|---|" + "---|" * len(CLASSES)]
        for truth in CLASSES:
            lines.append(f"| {truth} | " + " | ".join(str(self.confusion[truth][p]) for p in CLASSES) + " |")
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def read_surveys(path: Path, scale: tuple[float, float] = (1.0, 5.0)) -> list[Survey]:
    """(call_id, score) rows from CSV (header with call_id and score) or JSONL; every row with no
    call id, a score that is not a number or one outside ``scale`` is named in one refusal."""
    if not path.exists():
        raise SurveyError(f"survey file {path} does not exist")
    rows: list[tuple[str, dict[str, Any]]] = []
    if path.suffix.lower() in (".jsonl", ".json"):
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append((f"{path}:{line_no}", json.loads(line)))
                except json.JSONDecodeError as e:
                    raise SurveyError(f"{path}:{line_no}: invalid JSON ({e.msg})") from e
    else:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = {"call_id", "score"} - set(reader.fieldnames or ())
            if missing:
                raise SurveyError(f"{path}: the header needs columns call_id and score (missing {sorted(missing)})")
            rows = [(f"{path}:{i}", row) for i, row in enumerate(reader, 2)]
    surveys, problems = [], []
    low, high = scale
    for where, row in rows:
        call_id, score = row.get("call_id"), row.get("score")
        if not call_id:
            problems.append(f"{where}: no call_id")
            continue
        try:
            value = float(score)
        except (TypeError, ValueError):
            problems.append(f"{where}: score {score!r} for call {call_id} is not a number")
            continue
        if not np.isfinite(value):
            problems.append(f"{where}: score {score!r} for call {call_id} is not a finite number")
        elif not low <= value <= high:
            problems.append(f"{where}: score {score!r} for call {call_id} is outside the scale {low:g}-{high:g}")
        else:
            surveys.append(Survey(str(call_id), value, where))
    _refuse(path, problems)
    if not surveys:
        raise SurveyError(f"{path}: no survey answers")
    return surveys


def _refuse(path: Path, problems: list[str], shown: int = 20) -> None:
    if problems:
        more = f"\n... and {len(problems) - shown} more" if len(problems) > shown else ""
        raise SurveyError(f"{path}: {len(problems)} row(s) refused, nothing written:\n"
                          + "\n".join(problems[:shown]) + more)


def classify(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 dissatisfied / 1 neutral / 2 satisfied: the bottom and top quarters of the scale
    (on 1-5: 1-2, 3, 4-5; on 0-10: 0-2.5, 2.5-7.5, 7.5-10)."""
    pos = (values - low) / (high - low)
    return np.where(pos <= 0.25, 0, np.where(pos >= 0.75, 2, 1))


def to_scale(score: np.ndarray, low: float, high: float) -> np.ndarray:
    """Our 1-5 score mapped linearly onto [low, high]."""
    return low + (np.asarray(score, dtype=float) - 1.0) / 4.0 * (high - low)


def calibrate(store: Store, surveys_path: Path, scale: tuple[float, float] | None = None,
              refit: bool = True, base_model: str | None = None) -> CalibrationReport:
    from scipy.stats import spearmanr

    low, high = scale if scale else (1.0, 5.0)
    if high <= low:
        raise SurveyError(f"survey scale {low:g}-{high:g} is empty")
    surveys = read_surveys(surveys_path, (low, high))
    answers = {s.call_id: s.score for s in surveys}  # a later answer for the same call wins
    predicted = queries.satisfaction_scores(store, list(answers))
    unmatched = sorted(set(answers) - set(predicted))
    _refuse(surveys_path, [f"{s.where}: call {s.call_id} has no predicted satisfaction in {store.path}"
                           for s in surveys if s.call_id in set(unmatched)])
    matched = sorted(predicted)
    notes: list[str] = []
    confusion = {t: {p: 0 for p in CLASSES} for t in CLASSES}
    report = CalibrationReport(surveys=str(surveys_path), n_surveys=len(answers), n_matched=len(matched),
                               unmatched=unmatched, scale=(low, high), spearman=None, mae=None,
                               confusion=confusion, accuracy_3class=None, notes=notes)
    x = np.array([predicted[c] for c in matched], dtype=float)
    y = np.array([answers[c] for c in matched], dtype=float)
    mapped = to_scale(x, low, high)
    truth_cls, pred_cls = classify(y, low, high), classify(mapped, low, high)
    for t, p in zip(truth_cls, pred_cls):
        confusion[CLASSES[t]][CLASSES[p]] += 1
    report.spearman = float(spearmanr(x, y).statistic) if len(matched) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0 else None
    report.mae = float(np.mean(np.abs(mapped - y)))
    report.accuracy_3class = float(np.mean(truth_cls == pred_cls))
    if refit:
        if len(matched) < MIN_REFIT:
            notes.append(f"only {len(matched)} matched answers: need {MIN_REFIT} to refit the call model")
        else:
            _refit(store, report, matched, y, base_model)
    return report


def _features(store: Store, call_ids: list[str]) -> list[dict[str, float]]:
    rows = store.query("SELECT call_id, record->'satisfaction'->'features' AS f FROM calls "
                       "WHERE call_id IN (SELECT UNNEST(?))", [call_ids])
    found = {r["call_id"]: json.loads(r["f"]) if r["f"] else {} for r in rows}
    return [found.get(c) or {} for c in call_ids]


def _refit(store: Store, report: CalibrationReport, matched: list[str], y: np.ndarray,
           base_model: str | None) -> None:
    from wocas.satisfaction import call_model as cm

    features = _features(store, matched)
    if sum(1 for f in features if f) < MIN_REFIT:
        report.notes.append("the stored predictions carry no features (made before the call model): "
                            "run the calls again to refit")
        return
    keep = [i for i, f in enumerate(features) if f]
    x = cm.design([features[i] for i in keep])
    low, high = report.scale
    y_s = (y[keep] - low) / (high - low) * 4.0 - 2.0
    from wocas.config import model_file

    base = cm.load_call_model(model_file(base_model) or str(cm.CALL_MODEL_FILE))
    params, alpha = cm.refit(base, x, y_s)
    stamp = datetime.now(timezone.utc)
    params["version"] = f"{base.version}+refit{stamp:%Y%m%dT%H%M%S}"
    params["refit"] = {"base": base.version, "surveys": report.surveys, "n": len(keep), "alpha": alpha,
                       "scale": list(report.scale), "at": stamp.isoformat(timespec="seconds")}
    report.refit = params
    order = np.random.default_rng(0).permutation(len(keep))
    folds = min(5, len(keep))
    before, after = [], []
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        fold_model = cm.CallModel(cm.refit(base, x[train], y_s[train])[0])
        for model, errors in ((base, before), (fold_model, after)):
            errors.extend(np.abs(cm.score_of(model.s(x[test])) - cm.score_of(y_s[test])) / 4 * (high - low))
    report.mae_model_cv, report.mae_refit_cv = float(np.mean(before)), float(np.mean(after))


def stored_refit(store: Store) -> dict[str, Any] | None:
    """The latest refitted call model the store holds (``wocas calibrate``), or None."""
    if not store.has_table("satisfaction_calibrations"):
        return None
    for row in store.query("SELECT mapping FROM satisfaction_calibrations WHERE mapping IS NOT NULL "
                           "ORDER BY created_at DESC"):
        params = json.loads(row["mapping"])
        if isinstance(params, dict) and "features" in params:  # older rows hold an isotonic mapping
            return params
    return None


def with_stored_refit(store: Store, config: Any, out_dir: Path) -> Any:
    """The run's config with the store's refit as its call model, unless the config names one."""
    if config.satisfaction.call_model is not None or not config.satisfaction.enabled:
        return config
    params = stored_refit(store)
    if params is None:
        return config
    path = out_dir / "satisfaction-model.json"
    text = json.dumps(params, indent=1)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    log.info("satisfaction: the store's refit %s (%s)", params["version"], path)
    section = config.satisfaction.model_copy(update={"call_model": str(path)})
    return config.model_copy(update={"satisfaction": section})


def rescore(store: Store, params: dict[str, Any], flag_rules: FlagsConfig | None = None) -> int:
    """Every stored prediction that carries features, rescored with ``params`` (score, P, band, and
    the flags that read them); returns how many."""
    from wocas.satisfaction.call_model import CallModel
    from wocas.schema import CallAnalysis
    from wocas.stages.flags import FlagsStage
    from wocas.stages.satisfaction import satisfaction_for

    model = CallModel(params)
    flags = FlagsStage(flag_rules or FlagsConfig())
    n = 0
    for row in store.query("SELECT call_id, record FROM calls WHERE satisfaction_score IS NOT NULL"):
        call = CallAnalysis.from_json(json.loads(row["record"]))
        if call.satisfaction is None or not call.satisfaction.features:
            continue
        sat = satisfaction_for(call, dict(call.satisfaction.features), model)
        call = flags.process_call(call.replace(satisfaction=sat))
        store.execute("UPDATE calls SET satisfaction_score = ?, p_satisfied = ?, satisfaction_band = ?, flags = ?, "
                      "record = ? WHERE call_id = ?",
                      [sat.score, sat.p_satisfied, sat.band, [f.kind.value for f in call.flags],
                       json.dumps(call.to_json()), row["call_id"]])
        n += 1
    return n


def save(store: Store, report: CalibrationReport, out_dir: Path, flag_rules: FlagsConfig | None = None) -> list[Path]:
    """report.json, report.md and (when refitted) satisfaction-model.json under ``out_dir``; one
    row in the store and, with a refit, every stored prediction rescored, in one transaction."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "report.json", out_dir / "report.md"]
    with store.transaction():
        store.append_rows("satisfaction_calibrations", [{
            "created_at": datetime.now(timezone.utc).replace(tzinfo=None), "surveys": report.surveys,
            "n": report.n_matched, "scale_low": report.scale[0], "scale_high": report.scale[1],
            "spearman": report.spearman, "mae": report.mae, "mae_refit_cv": report.mae_refit_cv,
            "mapping": json.dumps(report.refit) if report.refit else None}])
        if report.refit is not None:
            n = rescore(store, report.refit, flag_rules)
            report.notes.append(f"{n} stored predictions rescored with {report.refit['version']}")
    paths[0].write_text(json.dumps(report.to_json(), indent=1))
    paths[1].write_text(report.to_markdown())
    if report.refit is not None:
        model_path = out_dir / "satisfaction-model.json"
        model_path.write_text(json.dumps(report.refit, indent=1))
        paths.append(model_path)
    return paths
