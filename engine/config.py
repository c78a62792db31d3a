"""One TOML file, validated at start-up into typed sections (one per stage).

Structure (which model, device, batch size) and tunable thresholds live side by side in
each section; every field has a default so an empty file runs the embedded models.
Unknown keys are errors: a typo in a nightly config must fail loudly, not be ignored. Every
model name and path is resolved when the config loads, so a misspelt model stops the run
before anything is written, with a suggestion.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wocas.errors import ConfigError, ModelError

__all__ = ["Config", "ConfigError", "load_config"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AudioConfig(Section):
    sample_rate: int = 16000
    max_duration_hours: float = 6.0  # longer files are refused as "huge"
    min_rms_dbfs: float = -70.0  # quieter than this everywhere = silent file


ASR_PROFILES = {  # named ASR choices, measured in benchmarks/results/asr_profiles.md
    "fast": "tiny.en",  # embedded, about 10x faster than base on CPU
    "accurate": "base",  # the best Whisper that ships in packages (optional: WOCAS_EXTRAS=...,asr)
}


class AsrConfig(Section):
    profile: Literal["fast", "accurate"] | None = None  # picks `model` from ASR_PROFILES
    model: str = "tiny.en"  # registry name or a CTranslate2 Whisper directory
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "auto"  # auto: int8 on CPU, float16 on CUDA
    # CTranslate2 threads per process on CPU. One: on the project's 2-core machine two threads (or
    # CTranslate2's own default) transcribed a 10-minute call 1.3x (tiny.en) and 1.08x (base) slower
    # than one, with the same words (benchmarks/results/asr_threads.md); the cores go to workers.
    # 0 = the runner's per-worker thread count.
    cpu_threads: int = 1
    beam_size: int = 5
    language: str | None = "en"
    vad_filter: bool = True
    batch_size: int = 0  # >0: faster-whisper batched pipeline; 0: chosen from free GPU memory on CUDA, one call at a time on CPU
    condition_on_previous_text: bool = True
    vad_fallback: bool = True  # a piece the VAD finds no speech in, but that has speech energy, is transcribed without VAD
    # Opt-in: silero's speech regions widened over the loud sound right next to them
    # (engine/stages/asr_speech.py), so words silero scores under its threshold are transcribed (CPU
    # path). RAVDESS strong-intensity WER 4.3% -> 3.9%, through 8 kHz mu-law 9.1% -> 6.2%, but LJ
    # Speech through mu-law 8.0% -> 8.6% (a breath read as a word): off by its adoption rule
    # (benchmarks/results/asr_vad_widen.md).
    vad_widen: bool = False

    @model_validator(mode="before")
    @classmethod
    def _profile_picks_the_model(cls, data):
        if isinstance(data, dict) and data.get("profile") in ASR_PROFILES:
            chosen = ASR_PROFILES[data["profile"]]
            if data.get("model", chosen) != chosen:
                raise ValueError(f'profile = "{data["profile"]}" means model = "{chosen}", but model = '
                                 f'"{data["model"]}" is set too: give one of them')
            data = {**data, "model": chosen}
        return data


class DiarizationConfig(Section):
    backend: Literal["embedded", "pyannote"] = "embedded"
    num_speakers: int = 0  # 0 = estimate between min_speakers and max_speakers (mono; stereo: channels)
    min_speakers: int = 2  # a call has two parties at least
    max_speakers: int = 8
    pyannote_path: str | None = None  # local pyannote.audio pipeline checkpoint


TextBackend = Literal["onnx-int8", "onnx", "torch"]  # see engine/text_encoder.py


class TextEncoderConfig(Section):
    """The sentence encoder the jobs, signals and satisfaction stages share."""
    model: str = "minilm"  # registry name or a sentence-transformers directory
    backend: TextBackend = "onnx-int8"
    device: Literal["cpu", "cuda"] = "cpu"  # "cuda" needs backend = "torch" (the ONNX backends run on CPU)

    @model_validator(mode="after")
    def _cuda_needs_torch(self) -> "TextEncoderConfig":
        if self.device == "cuda" and self.backend != "torch":
            raise ValueError(f'device = "cuda" needs backend = "torch" (got backend = "{self.backend}")')
        return self


class RolesConfig(Section):
    min_confidence: float = 0.55  # below this the role is "unknown"
    model: str = "role-head"  # fitted turn reader (models/role-head); "" = the hand-set cue rules


class EmotionConfig(Section):
    enabled: bool = True
    text_model: str = "emotion-minilm"  # registry name, transformers model dir, or "lexicon" (VADER/NRC only)
    audio_model: str | None = None  # transformers audio-classification model dir
    acoustic: bool = True  # prosody (pitch, energy, rate, pauses) against each speaker's own baseline
    device: str = "cpu"  # where the text/audio models run ("cuda" on a GPU node)
    text_backend: TextBackend = "onnx-int8"  # how the head's encoder runs on CPU (GPU: torch)
    batch_size: int = 64  # texts per encoder batch (pooled across the calls of a stage batch)
    text_label_map: dict[str, tuple[float, float]] = Field(default_factory=dict)  # label -> (valence, arousal)
    audio_label_map: dict[str, tuple[float, float]] = Field(default_factory=dict)
    lexicon_weight: float = 0.25  # share of VADER's compound in a turn's text valence
    intensity_gain: float = 0.8  # how far acoustic arousal stretches or shrinks |trust|
    shape_turnaround: float = 0.3  # |closing - opening| that makes a call recovered / deteriorated
    shape_volatility: float = 0.5  # mean |trust step| between turns above which a call is volatile
    # Customer turns re-read in context (what they answer, where the call stands): registry name
    # or folder of a trust context head; "" keeps each turn's own score.
    context_model: str = "trust-context"
    # The customer's shape also read from the words of the whole call (a lexical head, registry name or
    # folder; engine/text/lexical.py): averaged with the shape classifier's reading; "" = the classifier alone.
    shape_words: str = "shape-lexical"


class JobsConfig(Section):
    enabled: bool = True
    taxonomy: str = "contact-reasons"  # registry name or path to a TOML taxonomy
    # confidence below which the reason is "other"; unset: the head's own (chosen when it was
    # trained, from in-scope texts only), or 0.35 for the taxonomy's examples
    other_threshold: float | None = None
    head: str | None = None  # supervised intent head (registry name or folder) instead of the examples
    max_jobs: int = 3  # job statements kept per call
    max_customer_turns: int = 6  # early customer turns searched for the job (later ones only with a cue)


class ResolutionConfig(Section):
    # The fitted resolution head (registry name or folder; scripts/train_resolution.py); "" = the
    # zero-shot reader of the closing turns alone.
    model: str = "resolution-lexical"


class SignalsConfig(Section):
    enabled: bool = True
    competitors: tuple[str, ...] = ()  # competitor names to spot (case-insensitive)
    complaint_threshold: float = 0.5  # complaint score above which an implicit complaint is a signal
    # A head trained on your own labelled customer turns (`wocas train intents`, labels "complaint"
    # and anything else) replaces the zero-shot complaint score: registry name or folder.
    complaint_head: str | None = None
    low_trust: float = 0.0  # a sale attempted while the customer's trust is below this is a signal
    closing_turns: int = 4  # how many final turns decide whether the call ended unresolved


class RedactConfig(Section):
    enabled: bool = True
    entities: tuple[str, ...] = (
        "CARD", "ACCOUNT", "CVV", "EXPIRY", "IBAN", "SORT_CODE", "SSN",
        "EMAIL", "PHONE", "POSTCODE", "ADDRESS", "DOB", "NAME", "ID",
    )
    hash_key_env: str = "WOCAS_HASH_KEY"  # env var holding the HMAC key; unset = no hashes kept
    hash_entities: tuple[str, ...] = ("ACCOUNT", "EMAIL", "PHONE")  # kept as keyed hashes for matching
    audio: bool = False  # also write calls/<id>.redacted.wav with the PII word spans silenced
    audio_dir: str | None = None  # where that copy goes (`wocas run --redact-audio` sets OUT/calls)
    names: Literal["rules", "ner"] = "ner"  # "ner": spaCy's English NER + call cues; "rules": cues and capitals only
    agent_names: Literal["redact", "keep"] = "redact"  # "keep": the agent's own name stays in clear text
    # An order / claim / reference / ticket / case / booking / tracking number in digits alone is [ID]
    # when given as one (right after its keyword, in answer to the agent's question for it, or read
    # back); false: only such codes with letters (or written ones of 5+ digits) are redacted.
    digit_ids: bool = True
    # A fitted token tagger (registry name or folder; scripts/train_pii_tagger.py) whose spans are
    # added where the rules found nothing: more recall, a little less precision (its card).
    # "pii-tagger-crf" (the default) is the best measured; "pii-tagger" the older logistic one;
    # "" = the rules and the NER names alone.
    tagger: str = "pii-tagger-crf"
    # Only the tagger's spans of these types are added (empty = all of `entities`). The default keeps
    # it to identifiers, addresses and e-mails (wocas.text.pii.TAGGER_IDENTIFIER_TYPES): with every
    # type it also redacts ordinary words as names, angry ones included, which the emotion and trust
    # stages need ("This is ridiculous" -> "This is [NAME]"); benchmarks/results/pii_tagger_refit.md.
    tagger_types: tuple[str, ...] = ("ID", "ACCOUNT", "SSN", "CARD", "PHONE", "POSTCODE", "IBAN", "SORT_CODE",
                                     "ADDRESS", "EMAIL")
    # A fitted check on every NAME span (registry name or folder; scripts/train_name_verifier.py): a
    # candidate is redacted only if it reads as a name, and uncommon words no cue introduces may be
    # added ("and you are marcus bell"). "name-verifier" (the default; models/name-verifier/CARD.md); "" = every
    # name the finders give.
    name_verifier: str = "name-verifier"

    @field_validator("entities", "hash_entities", "tagger_types")
    @classmethod
    def _known_entities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from wocas.text.pii import ENTITY_TYPES

        unknown = sorted(set(value) - set(ENTITY_TYPES))
        if unknown:
            raise ValueError(f"unknown PII entity types {unknown}; known: {', '.join(ENTITY_TYPES)}")
        return value

    @field_validator("names")
    @classmethod
    def _ner_installed(cls, value: str) -> str:
        if value == "ner":
            from wocas.text.names import NerMissing, check_installed

            try:
                check_installed()
            except NerMissing as e:
                raise ValueError(str(e)) from None
        return value


class SatisfactionConfig(Section):
    enabled: bool = True
    model: str | None = None  # None = the shipped models/satisfaction/model.json; else a path or registered name
    # None = the shipped models/satisfaction/call_model.json, or the store's refit (wocas calibrate); else a
    # path or a registered name (satisfaction-call-mpnet: the accurate-trust profile's, configs/accurate-trust.toml)
    call_model: str | None = None
    # The survey band also read from the words of the whole call (a lexical head, registry name or folder):
    # averaged with the band model's reading; "" = the band model alone.
    band_words: str = "band-lexical"


class FlagsConfig(Section):
    """Thresholds of the QA flags (stages/flags.py); tune them against reviewer agreement on /insights."""

    min_signal_strength: float = 0.3  # weaker defection signals are shown but do not flag
    deteriorated_turnaround: float = -0.4  # turnaround at or below this flags even without a shape
    frustrated_trust: float = -0.3  # customer trust at or below this counts as frustrated
    repeat_window_days: float = 7.0  # an earlier contact this recent makes this one a repeat
    # a call flags when the fitted band model puts it in the survey's low band, or P(satisfied) is
    # under low_p_satisfied; low_satisfaction_score (1..5) adds a hand-set cut on the score
    low_satisfaction_score: float | None = None
    low_p_satisfied: float = 0.35
    long_silence_share: float = 0.4
    overtalk_share: float = 0.1  # overtalk seconds / handle time
    overtalk_seconds: float = 8.0


class CustomersConfig(Section):
    repeat_window_days: float = 7.0  # a contact within this many days of an earlier one may be a repeat
    heavy_user_contacts: int = 3  # this many contacts or more in the store = heavy user
    period: Literal["day", "week", "month"] = "week"  # unique customers are counted per period
    at_risk_threshold: float = 0.5  # defection risk at or above this = at risk
    rescue_from: float = -0.2  # a call whose customer opened at or below this trust ...
    rescue_to: float = 0.2  # ... and closed at or above this one turned frustration into trust
    # the defection risk's factor weights: a registered name or a JSON file's path; "churn-risk" = fitted
    # on the team's written calls (models/churn-risk/CARD.md), "" = the hand-set constants in
    # wocas.analytics.customers
    risk_weights: str = "churn-risk"


class InsightsConfig(Section):
    currency: str = "$"  # printed before money amounts in reports
    cost_per_contact: float = 4.0  # fixed cost of handling one contact (queueing, wrap-up, overhead)
    cost_per_minute: float = 1.0  # loaded agent cost per minute of handle time
    satisfied_threshold: float = 0.5  # predicted P(satisfied) at or above this = helped
    baseline_days: int = 28  # a reason's daily count is compared with this many days before it
    min_baseline_days: int = 7  # fewer days of history than this: no spike test yet
    spike_z: float = 3.5  # robust z-score (median / MAD) a day must reach to be a spike ...
    spike_p: float = 0.0001  # ... and its Poisson tail probability under the baseline mean (many reasons × days are tested)
    spike_min_count: int = 5  # ... and at least this many contacts that day
    recent_days: int = 7  # alerts whose last day falls within this many days of the newest call are active
    emerging_days: int = 7  # nights of `other` statements clustered to find emerging reasons
    emerging_nights: int = 3  # an emerging reason must grow over this many consecutive nights
    emerging_min_count: int = 3  # ... and reach this many contacts on the last night
    max_emerging_statements: int = 3000  # newest `other` statements clustered (bounds the time)


class RunConfig(Section):
    # 0 = auto: one process for a batch or less of calls; else one one-thread worker per core, at
    # most one per 1.5 GB of free memory; with ASR on a GPU, one process
    workers: int = Field(default=0, ge=0)
    threads_per_worker: int = 0  # 0 = cores // workers
    batch_size: int = 8  # calls per stage batch
    runner: Literal["local", "ray"] = "local"
    # Wall-clock limit per call: a call past it fails alone ("exceeded time limit N s in stage X").
    # 0 = sized to the call: max(call_time_min_s, call_time_factor x audio seconds, or for a
    # transcript 1 s per 1,000 characters). Local runner only; a stage stuck inside native code
    # is stopped when it next returns to Python.
    call_time_limit_s: float = Field(default=0.0, ge=0)
    call_time_min_s: float = Field(default=120.0, gt=0)
    call_time_factor: float = Field(default=3.0, gt=0)
    # A call longer than this keeps its decoded int16 audio in a temporary file (read back in
    # windows) instead of memory, so memory does not grow with call length; 0 = never.
    spool_audio_minutes: float = Field(default=30.0, ge=0)
    spool_dir: str = ""  # where those files go; "" = `<out>/tmp` for `wocas run`, else the system temp folder


class Config(Section):
    audio: AudioConfig = Field(default_factory=AudioConfig)
    asr: AsrConfig = Field(default_factory=AsrConfig)
    diarization: DiarizationConfig = Field(default_factory=DiarizationConfig)
    roles: RolesConfig = Field(default_factory=RolesConfig)
    text_encoder: TextEncoderConfig = Field(default_factory=TextEncoderConfig)
    emotion: EmotionConfig = Field(default_factory=EmotionConfig)
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    resolution: ResolutionConfig = Field(default_factory=ResolutionConfig)
    signals: SignalsConfig = Field(default_factory=SignalsConfig)
    redact: RedactConfig = Field(default_factory=RedactConfig)
    satisfaction: SatisfactionConfig = Field(default_factory=SatisfactionConfig)
    flags: FlagsConfig = Field(default_factory=FlagsConfig)
    customers: CustomersConfig = Field(default_factory=CustomersConfig)
    insights: InsightsConfig = Field(default_factory=InsightsConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    def fingerprint(self) -> str:
        """A short hash of everything that changes results (not how many workers run)."""
        data = self.model_dump(mode="json", exclude={"run", "insights"})  # reports, not per-call results
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]

    def to_toml(self) -> str:
        lines: list[str] = []
        for name, section in self.model_dump(mode="json").items():
            lines.append(f"[{name}]")
            for key, value in section.items():
                if value is None:
                    lines.append(f"# {key} = (unset)")
                else:
                    lines.append(f"{key} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)


def _toml_value(value) -> str:
    """A TOML literal for a JSON-like value (dicts become inline tables, None entries are dropped)."""
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    return json.dumps(value)  # strings, numbers and booleans are spelled the same in JSON and TOML


# (section, key) of every field naming a model (registry name or path) or a file to read.
MODEL_FIELDS = (("asr", "model"), ("text_encoder", "model"), ("emotion", "text_model"),
                ("emotion", "audio_model"), ("jobs", "taxonomy"), ("jobs", "head"),
                ("signals", "complaint_head"), ("emotion", "context_model"), ("redact", "tagger"), ("redact", "name_verifier"),
                ("resolution", "model"), ("customers", "risk_weights"), ("roles", "model"))
PATH_FIELDS = (("satisfaction", "model"), ("satisfaction", "call_model"), ("diarization", "pyannote_path"))
REGISTERED_FILES = {("satisfaction", "model"), ("satisfaction", "call_model")}  # a path or a registered name


def model_file(value: str | None) -> str | None:
    """A file field's value as a path: a registered name (e.g. ``satisfaction-call-mpnet``) becomes
    its file under models/, anything else is kept as it is."""
    if not value or Path(value).expanduser().exists():
        return value
    from wocas.models.registry import names, resolve

    return str(resolve(value).path) if value in names() else value


NOT_A_MODEL = {("emotion", "text_model"): "lexicon"}  # a value that names no model


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> Config:
    """Read and validate a TOML config; ``overrides`` are {section: {key: value}}. Every model
    name and path in it is resolved here: a typo is a ``ConfigError`` naming key and file."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as e:
            raise ConfigError(f"config file {path} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    where = str(path) if path is not None else "the config"
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError("\n".join(_explain(error, where) for error in e.errors())) from e
    check_models(config, where)
    return config


def check_models(config: Config, where: str = "the config") -> None:
    """Raise ``ConfigError`` for a model name that is not registered and is not an existing path,
    or a file path that does not exist. Nothing is loaded: this only looks names up."""
    from wocas.models.registry import check

    for section, key in MODEL_FIELDS:
        value = getattr(getattr(config, section), key)
        if not value or NOT_A_MODEL.get((section, key)) == value:
            continue
        try:
            check(value)
        except ModelError as e:
            raise ConfigError(f"{where}: [{section}] {key} = {json.dumps(value)}: {e}") from e
    for section, key in PATH_FIELDS:
        value = getattr(getattr(config, section), key)
        if (section, key) in REGISTERED_FILES and value is not None:
            try:
                value = model_file(value)
            except ModelError as e:
                raise ConfigError(f"{where}: [{section}] {key} = {json.dumps(value)}: {e}") from e
        if value is not None and not Path(value).expanduser().exists():
            raise ConfigError(f"{where}: [{section}] {key} = {json.dumps(value)}: no such file or folder")


def _explain(error: dict, where: str) -> str:
    """One line for one pydantic error: the file, the key, the reason, a suggestion for a typo."""
    loc = [str(part) for part in error["loc"]]
    if error["type"] == "extra_forbidden":
        if len(loc) == 1:
            known = list(Config.model_fields)
            return f"{where}: unknown section [{loc[0]}]{_did_you_mean(loc[0], known)}"
        section_model = Config.model_fields[loc[0]].annotation
        known = list(section_model.model_fields) if isinstance(section_model, type) else []
        return f"{where}: unknown key {loc[-1]!r} in [{loc[0]}]{_did_you_mean(loc[-1], known)}"
    key = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else f"[{loc[0]}]" if loc else "config"
    message = error["msg"].removeprefix("Value error, ")
    if "input" in error and len(loc) > 1 and error["type"] not in ("value_error", "missing"):
        message = f"{message} (got {error['input']!r})"
    return f"{where}: {key}: {message}"


def _did_you_mean(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
