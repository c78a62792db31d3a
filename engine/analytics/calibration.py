"""Checking predicted satisfaction against a business's real survey answers, and refitting
the mapping from our 1-5 score to that business's own scale.

``wocas calibrate --surveys FILE --out DIR`` reads (call_id, score) pairs (CSV with a header,
or JSONL), joins them to the predictions in the store, and reports Spearman's rho, the mean
absolute error on the survey's scale, and the confusion of satisfied / neutral / dissatisfied.
With enough answers it fits a monotone (isotonic) mapping from our score to the survey scale,
reports its cross-validated error honestly, and stores it (a JSON file plus a row in the
store's ``satisfaction_calibrations`` table) so reports can speak the business's scale.
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
    mapping: dict[str, list[float]] | None = None  # isotonic knots: predicted 1-5 -> survey scale
    mae_refit_cv: float | None = None  # 5-fold cross-validated MAE of the refitted mapping
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
        if self.mapping is not None:
            lines.append(f"- refitted mapping, 5-fold cross-validated MAE: {_fmt(self.mae_refit_cv)}")
        lines += ["", "| survey \\ predicted | " + " | ".join(CLASSES) + " |", "|---|" + "---|" * len(CLASSES)]
        for truth in CLASSES:
            lines.append(f"| {truth} | " + " | ".join(str(self.confusion[truth][p]) for p in CLASSES) + " |")
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def read_surveys(path: Path) -> list[Survey]:
    """(call_id, score) rows from CSV (header with call_id and score) or JSONL."""
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
    surveys = []
    for where, row in rows:
        call_id, score = row.get("call_id"), row.get("score")
        if not call_id:
            raise SurveyError(f"{where}: no call_id")
        try:
            value = float(score)
        except (TypeError, ValueError) as e:
            raise SurveyError(f"{where}: score {score!r} for call {call_id} is not a number") from e
        if not np.isfinite(value):
            raise SurveyError(f"{where}: score {score!r} for call {call_id} is not a finite number")
        surveys.append(Survey(str(call_id), value))
    if not surveys:
        raise SurveyError(f"{path}: no survey answers")
    return surveys


def classify(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 dissatisfied / 1 neutral / 2 satisfied: the bottom and top quarters of the scale
    (on 1-5: 1-2, 3, 4-5; on 0-10: 0-2.5, 2.5-7.5, 7.5-10)."""
    pos = (values - low) / (high - low)
    return np.where(pos <= 0.25, 0, np.where(pos >= 0.75, 2, 1))


def to_scale(score: np.ndarray, low: float, high: float) -> np.ndarray:
    """Our 1-5 score mapped linearly onto [low, high]."""
    return low + (np.asarray(score, dtype=float) - 1.0) / 4.0 * (high - low)


def apply_mapping(score: float | np.ndarray, mapping: dict[str, list[float]]) -> np.ndarray:
    return np.interp(score, mapping["x"], mapping["y"])


def _fit_isotonic(x: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    return {"x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_]}


def _cv_mae(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    order = np.random.default_rng(seed).permutation(len(x))
    errors = []
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        mapping = _fit_isotonic(x[train], y[train])
        errors.extend(np.abs(apply_mapping(x[test], mapping) - y[test]))
    return float(np.mean(errors))


def calibrate(store: Store, surveys_path: Path, scale: tuple[float, float] | None = None,
              refit: bool = True) -> CalibrationReport:
    from scipy.stats import spearmanr

    surveys = read_surveys(surveys_path)
    answers = {s.call_id: s.score for s in surveys}  # a later answer for the same call wins
    predicted = queries.satisfaction_scores(store, list(answers))
    matched = sorted(predicted)
    unmatched = sorted(set(answers) - set(predicted))
    y_all = np.array(list(answers.values()))
    low, high = scale if scale else (min(1.0, float(y_all.min())), max(5.0, float(y_all.max())))
    if high <= low:
        raise SurveyError(f"survey scale {low:g}-{high:g} is empty")
    notes = []
    if unmatched:
        notes.append(f"{len(unmatched)} survey answers name calls with no prediction in the store "
                     f"(first: {', '.join(unmatched[:5])})")
    confusion = {t: {p: 0 for p in CLASSES} for t in CLASSES}
    report = CalibrationReport(surveys=str(surveys_path), n_surveys=len(answers), n_matched=len(matched),
                               unmatched=unmatched, scale=(low, high), spearman=None, mae=None,
                               confusion=confusion, accuracy_3class=None, notes=notes)
    if not matched:
        notes.append("no survey answer matched a call in the store: nothing to compare")
        return report
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
            notes.append(f"only {len(matched)} matched answers: need {MIN_REFIT} to refit the mapping")
        else:
            report.mapping = _fit_isotonic(x, y)
            report.mae_refit_cv = _cv_mae(x, y)
    return report


def save(store: Store, report: CalibrationReport, out_dir: Path) -> list[Path]:
    """report.json, report.md and (when refitted) mapping.json under ``out_dir``; one row in the store."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "report.json", out_dir / "report.md"]
    paths[0].write_text(json.dumps(report.to_json(), indent=1))
    paths[1].write_text(report.to_markdown())
    if report.mapping is not None:
        mapping_path = out_dir / "mapping.json"
        mapping_path.write_text(json.dumps({"scale": list(report.scale), **report.mapping}, indent=1))
        paths.append(mapping_path)
    store.append_rows("satisfaction_calibrations", [{
        "created_at": datetime.now(timezone.utc).replace(tzinfo=None), "surveys": report.surveys,
        "n": report.n_matched, "scale_low": report.scale[0], "scale_high": report.scale[1],
        "spearman": report.spearman, "mae": report.mae, "mae_refit_cv": report.mae_refit_cv,
        "mapping": json.dumps(report.mapping) if report.mapping else None}])
    return paths
