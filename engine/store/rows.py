"""Typed rows of the store's tables, as readers get them back from ``wocas.store.queries``."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

T = TypeVar("T")


def from_row(cls: type[T], row: dict[str, Any]) -> T:
    """The dataclass ``cls`` from a result row holding (at least) its fields."""
    return cls(**{f.name: row.get(f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunRow:
    run_id: str
    started_at: datetime | None
    ended_at: datetime | None
    status: str | None
    calls_ok: int | None
    calls_failed: int | None
    calls_skipped: int | None
    audio_seconds: float | None
    wall_seconds: float | None
    x_realtime: float | None
    pipeline_version: str | None
    inputs: str | None  # JSON list of the input paths
    config: str | None  # the resolved config, TOML
    log_path: str | None


@dataclass(frozen=True)
class CallSummary:
    """One stored call without its record, turns or words: what lists of contacts show."""

    call_id: str
    kind: str | None
    status: str | None
    customer_id: str | None
    agent_id: str | None
    started_at: str | None  # as the input gave it
    duration: float | None
    contact_reason: str | None
    preventable: bool | None
    trajectory_shape: str | None
    trust_opening: float | None
    trust_closing: float | None
    satisfaction_score: float | None
    p_satisfied: float | None
    satisfaction_band: str | None  # low / mid / high
    metadata: str | None  # JSON object of the input's extra fields

    @cached_property
    def meta(self) -> dict[str, Any]:
        """The metadata as a dict ({} when absent or not a JSON object)."""
        if not self.metadata:
            return {}
        try:
            value = json.loads(self.metadata)
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class CustomerRow:
    """A row of the ``customers`` table, which ``wocas.analytics.customers.rollup`` rebuilds."""

    customer_id: str
    contacts: int | None
    first_contact: datetime | None
    last_contact: datetime | None
    contacts_by_channel: str | None  # JSON object channel -> contacts
    usage: str | None  # heavy / light
    repeat_contacts: int | None
    repeat_rate: float | None
    jobs: str | None  # JSON list of the customer's jobs with their status
    open_jobs: list[str] | None
    preventable_contacts: int | None
    emotion_first: float | None
    emotion_last: float | None
    emotion_trend: float | None
    satisfaction_mean: float | None
    satisfaction_last: float | None
    defection_risk: float | None
    risk_reasons: list[str] | None
    at_risk: bool | None
    unlogged_complaint: bool | None
    value: float | None
    value_at_risk: float | None
    rescued_calls: int | None
    value_rescued: float | None
    updated_at: datetime | None


@dataclass(frozen=True)
class RiskTotals:
    """The customers table summed up: how many are at risk, and the value at risk and rescued."""

    at_risk: int
    value_at_risk: float | None
    value_rescued: float | None
    customers: int
    repeat_contacts: int = 0  # contacts that are repeats (queries.REPEATS_SQL)
    recovered_calls: int = 0  # calls of known customers that recovered (queries.OUTCOMES_SQL)
