"""The bad-input matrix (issue 23): 90+ bad or unusual inputs, generated here, in ONE
``wocas run`` batch with good calls. Each case's files carry a token (``kNNN_``) in their
names; a case is *isolated* when a row names it (failed with the file in the reason, or
stored ok: with a warning for a damaged recording), or, for an input that holds no call, when
the run's log warns about it. Goal: 100% isolated, 0 crashed, 0 dropped, every good call ok."""

from __future__ import annotations

import io
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from wocas.cli import main
from wocas.store.store import Store

# Text stages and ASR only: what is under test is ingest, decode and the runner's isolation.
CONFIG = "[emotion]\nenabled = false\n[jobs]\nenabled = false\n[signals]\nenabled = false\n[run]\nbatch_size = 16\n"

BAD, ODD, WARN = "bad", "odd", "warn"  # must fail naming the file (or ok + warning) / must have a row / a log warning


@dataclass
class Case:
    token: str
    kind: str
    what: str


def chat(call_id: str, text: str = "My card was declined again.") -> dict:
    return {"call_id": call_id, "turns": [{"speaker": "customer", "text": text, "start": 0.0, "end": 3.0},
                                          {"speaker": "agent", "text": "I have unblocked it for you.",
                                           "start": 3.0, "end": 6.0}]}


class Night:
    def __init__(self, root: Path, speech: np.ndarray, rate: int):
        self.night, self.refs, self.manifests = root / "night", root / "refs", root / "manifests"
        for d in (self.night, self.refs, self.manifests):
            d.mkdir(parents=True)
        self.cases: list[Case] = []
        self.speech, self.rate = speech, rate
        self.rng = np.random.default_rng(23)

    def case(self, kind: str, what: str) -> str:
        token = f"k{len(self.cases):03d}_"
        self.cases.append(Case(token, kind, what))
        return token

    def raw(self, kind: str, what: str, suffix: str, data: bytes, folder: Path | None = None) -> Path:
        path = (folder or self.night) / f"{self.case(kind, what)}{suffix}"
        path.write_bytes(data)
        return path

    def wav(self, kind: str, what: str, samples: np.ndarray, rate: int, subtype: str | None = None,
            suffix: str = ".wav", fmt: str | None = None) -> Path:
        path = self.night / f"{self.case(kind, what)}{suffix}"
        sf.write(path, samples, rate, subtype=subtype, format=fmt)
        return path

    def transcript(self, kind: str, what: str, text: str | bytes, suffix: str = ".json") -> Path:
        return self.raw(kind, what, suffix, text.encode() if isinstance(text, str) else text)

    def manifest(self, kind: str, what: str, body: str | bytes, suffix: str = ".csv") -> Path:
        return self.raw(kind, what, suffix, body.encode() if isinstance(body, str) else body, self.manifests)

    def ref_chat(self, name: str) -> Path:
        path = self.refs / f"{name}.json"
        path.write_text(json.dumps(chat(name.rstrip("_"))))
        return path


def encoded(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt)
    return buf.getvalue()


def build(root: Path, samples_dir: Path) -> tuple[Night, list[Path], list[str]]:
    speech, rate = sf.read(samples_dir / "delivery-mono-16k.flac", dtype="float32")
    speech = speech[: 4 * rate]
    n = Night(root, speech, rate)
    good = ["good_a", "good_b", "good_c", "good_audio"]
    for name in good[:3]:
        (n.night / f"{name}.json").write_text(json.dumps(chat(name)))
    sf.write(n.night / "good_audio.wav", speech, rate)

    noise = (n.rng.standard_normal(rate // 2) * 0.1).astype("float32")
    rnd = n.rng.bytes(4000)
    # ---- audio ------------------------------------------------------------------------------
    n.raw(BAD, "empty wav", ".wav", b"")
    for suffix in (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus"):
        n.raw(BAD, f"random bytes {suffix}", suffix, rnd)
    n.raw(BAD, "text named .wav", ".wav", b"this is not audio\n" * 50)
    n.raw(BAD, "a JSON file named .mp3", ".mp3", json.dumps(chat("x")).encode())
    data = encoded(speech, rate, "WAV")
    n.raw(BAD, "truncated wav", ".wav", data[: len(data) // 3])
    n.raw(BAD, "wav header only", ".wav", data[:44])
    n.raw(BAD, "wav cut inside the header", ".wav", data[:20])
    header = bytearray(data[:44] + data[44:44 + 16000])
    header[40:44] = struct.pack("<I", 2**31)  # declares ~18 h of audio, holds 0.5 s
    n.raw(BAD, "wav declaring far more data than it has", ".wav", bytes(header))
    fdata = encoded(speech, rate, "FLAC")
    n.raw(BAD, "truncated flac", ".flac", fdata[: len(fdata) // 2])
    n.raw(BAD, "flac header only", ".flac", fdata[:200])
    bad_nan = noise.copy()
    bad_nan[100] = np.nan
    n.wav(BAD, "NaN sample mono float", bad_nan, rate, "FLOAT")
    n.wav(BAD, "NaN sample stereo float", np.stack([bad_nan, noise], 1), rate, "FLOAT")
    bad_inf = noise.copy()
    bad_inf[5] = np.inf
    n.wav(BAD, "infinite sample", bad_inf, rate, "FLOAT")
    n.wav(BAD, "rate 2 kHz", noise[:1000], 2000)
    n.wav(ODD, "silent 1 s", np.zeros(rate, dtype="float32"), rate)
    n.wav(ODD, "10 samples", noise[:10], rate)
    n.wav(ODD, "one sample", noise[:1], rate)
    n.wav(ODD, "96 kHz", np.resize(noise, 96000 // 4), 96000)
    n.wav(ODD, "8 kHz", speech[::2][: 8000], 8000)
    n.wav(ODD, "11025 Hz odd rate", np.resize(noise, 5000), 11025)
    n.wav(ODD, "six channels", np.stack([noise] * 6, 1), rate)
    n.wav(ODD, "unsigned 8-bit", noise, rate, "PCM_U8")
    n.wav(ODD, "24-bit", noise, rate, "PCM_24")
    n.wav(ODD, "mu-law", speech[: rate], rate, "ULAW")
    n.wav(ODD, "clipped square wave", np.sign(np.sin(np.arange(rate // 2) / 5)).astype("float32"), rate)
    n.wav(ODD, "DC offset only", np.full(rate // 2, 0.5, dtype="float32"), rate)
    n.wav(ODD, "flac data named .wav", speech[: rate], rate, fmt="FLAC")
    n.wav(ODD, "uppercase suffix", speech[: rate], rate, suffix=".WAV")
    n.wav(ODD, "name with spaces and accents", speech[: rate], rate, suffix=" café ünï.wav")
    n.wav(ODD, "stereo speech", np.stack([speech[: rate], speech[: rate] * 0.5], 1), rate)
    n.wav(ODD, "ogg vorbis", speech[: rate], rate, suffix=".ogg", fmt="OGG")
    # ---- file-system oddities -----------------------------------------------------------------
    (n.night / f"{n.case(BAD, 'directory named .wav')}.wav").mkdir()
    (n.night / f"{n.case(BAD, 'directory named .json')}.json").mkdir()
    os.symlink(n.night / "nowhere.wav", n.night / f"{n.case(BAD, 'broken symlink')}.wav")
    loop = n.case(BAD, "symlink loop")
    os.symlink(n.night / f"{loop}b.wav", n.night / f"{loop}a.wav")
    os.symlink(n.night / f"{loop}a.wav", n.night / f"{loop}b.wav")
    target = n.ref_chat(n.case(ODD, "symlink to a good transcript") + "t")
    os.symlink(target, n.night / f"{target.stem}.json")
    # ---- transcripts (JSON) --------------------------------------------------------------------
    for what, text in [
        ("empty .json", ""), ("truncated JSON", '{"call_id": "x", "turns": ['),
        ("top-level null", "null"), ("top-level string", '"hello"'), ("no turns key", '{"call_id": "a"}'),
        ("turns empty", '{"turns": []}'), ("turns a string", '{"turns": "hello"}'),
        ("turn without text", '{"turns": [{"speaker": "agent"}]}'),
        ("turn text a number", '{"turns": [{"speaker": "agent", "text": 5}]}'),
        ("speaker empty", '{"turns": [{"speaker": "", "text": "hi"}]}'),
        ("speaker missing", '{"turns": [{"text": "hi"}]}'),
        ("turn not an object", '{"turns": ["hi"]}'),
        ("NaN start", json.dumps(chat("x")).replace('"start": 0.0', '"start": NaN', 1)),
        ("Infinity end", json.dumps(chat("x")).replace('"end": 3.0', '"end": Infinity', 1)),
        ("-Infinity start", json.dumps(chat("x")).replace('"start": 0.0', '"start": -Infinity', 1)),
        ("1e999 time", json.dumps(chat("x")).replace('"end": 3.0', '"end": 1e999', 1)),
        ("time a string", json.dumps(chat("x")).replace('"end": 3.0', '"end": "soon"', 1)),
        ("deep nesting", '{"turns": [], "x": ' + "[" * 50_000 + "]" * 50_000 + "}"),
        ("call_id empty", json.dumps({**chat("x"), "call_id": ""})),
        ("call_id a list", json.dumps({**chat("x"), "call_id": [1]})),
        ("trailing comma", '{"turns": [{"speaker": "agent", "text": "hi"},]}'),
        ("comments", '// c\n{"turns": [{"speaker": "agent", "text": "hi"}]}'),
        ("binary garbage", n.rng.bytes(3000)),
        ("UTF-16", json.dumps(chat("x")).encode("utf-16")),
        ("Latin-1 text", json.dumps(chat("x", "caf\u00e9"), ensure_ascii=False).encode("latin-1")),
    ]:
        n.transcript(BAD, what, text)
    token = n.case(ODD, "negative and unordered times")
    odd = chat(token)
    odd["turns"][0].update(start=5.0, end=-1.0)
    (n.night / f"{token}.json").write_text(json.dumps(odd))
    for what, obj in [
        ("UTF-8 BOM", None), ("call_id with slash", {**chat("x"), "call_id": "a/b/../c"}),
        ("call_id 5000 chars", {**chat("x"), "call_id": "z" * 5000}), ("unknown extra fields", {**chat("x"), "zz": {"a": 1}}),
        ("a 1 MB turn", chat("x", "word " * 200_000)),
        ("5000 turns", {"turns": [{"speaker": "agent" if i % 2 else "customer", "text": "ok"} for i in range(5000)]}),
        ("control characters", chat("x", "hello\x00\x07\x1b[31m")),
        ("call_id a number", {**chat("x"), "call_id": 12345}),
    ]:
        token = n.case(ODD, what)
        if obj is None:
            (n.night / f"{token}.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(chat(token)).encode())
        else:
            (n.night / f"{token}.json").write_text(json.dumps(obj))
    # ---- transcripts (JSONL) -------------------------------------------------------------------
    t = n.case(BAD, "JSONL with an invalid line")
    (n.night / f"{t}.jsonl").write_text(json.dumps(chat(t + "ok")) + "\n{oops\n")
    t = n.case(BAD, "JSONL with a non-object line")
    (n.night / f"{t}.jsonl").write_text(json.dumps(chat(t + "ok")) + "\n[1, 2]\n")
    t = n.case(BAD, "JSONL line without turns")
    (n.night / f"{t}.jsonl").write_text('{"call_id": "' + t + '"}\n')
    n.transcript(WARN, "a JSON file holding an empty list", "[]")
    n.transcript(WARN, "empty JSONL", "", ".jsonl")
    n.transcript(WARN, "JSONL of blank lines", "\n\n  \n", ".jsonl")
    # ---- manifests ---------------------------------------------------------------------------
    def ref(kind: str, what: str) -> tuple[str, Path]:
        tok = n.case(kind, what)
        return tok, n.ref_chat(tok + "r")

    n.manifest(BAD, "empty CSV", "")
    n.manifest(WARN, "CSV header only", "path,call_id\n")
    tok, p = ref(BAD, "CSV without a header row")
    (n.manifests / f"{tok}.csv").write_text(f"{p},{tok}\n")
    tok, p = ref(BAD, "ragged CSV row")
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id\n{p},{tok},extra\n")
    tok, p = ref(BAD, "Latin-1 CSV")
    (n.manifests / f"{tok}.csv").write_bytes(f"path,call_id\n{n.refs}/caf\u00e9.json,{tok}\n".encode("latin-1"))
    tok, p = ref(ODD, "CSV with a UTF-8 BOM")
    (n.manifests / f"{tok}.csv").write_bytes(f"\ufeffpath,call_id\n{p},{tok}\n".encode())
    tok = n.case(BAD, "CSV row at a directory")
    (n.refs / f"{tok}dir").mkdir()
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id\n{n.refs / (tok + 'dir')},{tok}\n")
    tok = n.case(BAD, "CSV row at a missing file")
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id\n{n.refs / (tok + 'gone.wav')},{tok}\n")
    tok = n.case(BAD, "CSV row with an empty path")
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id\n,{tok}\n")
    tok, p = ref(BAD, "CSV without a path column")
    (n.manifests / f"{tok}.csv").write_text(f"file,id\n{p},{tok}\n")
    tok, p = ref(BAD, "CSV with an unbalanced quote")
    (n.manifests / f"{tok}.csv").write_text(f'path,call_id\n"{p},{tok}\n')
    tok = n.case(BAD, "CSV row with a channel map on a mono file that names no role")
    sf.write(n.refs / f"{tok}.wav", speech[:rate], rate)
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id,channels\n{n.refs / (tok + '.wav')},{tok},\"left,right\"\n")
    tok = n.case(BAD, "CSV row at a broken symlink")
    os.symlink(n.refs / "nothing.wav", n.refs / f"{tok}.wav")
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id\n{n.refs / (tok + '.wav')},{tok}\n")
    tok = n.case(BAD, "CSV row at random bytes")
    (n.refs / f"{tok}.wav").write_bytes(rnd)
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id\n{n.refs / (tok + '.wav')},{tok}\n")
    tok, p = ref(ODD, "CSV with CRLF line ends")
    (n.manifests / f"{tok}.csv").write_bytes(f"path,call_id\r\n{p},{tok}\r\n".encode())
    tok, p = ref(ODD, "CSV with blank lines")
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id\n\n{p},{tok}\n\n")
    tok = n.case(BAD, "CSV in binary garbage")
    (n.manifests / f"{tok}.csv").write_bytes(n.rng.bytes(2000))
    tok, p = ref(BAD, "JSONL manifest with an invalid line")
    (n.manifests / f"{tok}.jsonl").write_text(json.dumps({"path": str(p)}) + "\n{nope\n")
    tok = n.case(BAD, "JSONL manifest with a non-object row")
    (n.manifests / f"{tok}.jsonl").write_text('"just a string"\n')
    tok = n.case(BAD, "JSONL manifest row without a path")
    (n.manifests / f"{tok}.jsonl").write_text(json.dumps({"path": None, "call_id": tok}) + "\n")
    tok = n.case(BAD, "JSONL manifest path a number")
    (n.manifests / f"{tok}.jsonl").write_text(json.dumps({"path": 5, "call_id": tok}) + "\n")
    tok = n.case(BAD, "two manifest rows with one call_id")
    a, b = n.refs / f"{tok}a.json", n.refs / f"{tok}b.json"
    a.write_text(json.dumps(chat(tok)))
    b.write_text(json.dumps(chat(tok, "another call")))
    (n.manifests / f"{tok}.csv").write_text(f"path,call_id\n{a},{tok}\n{b},{tok}\n")
    # ---- duplicates across files ---------------------------------------------------------------
    tok = n.case(BAD, "two transcripts with one call_id")
    (n.night / f"{tok}1.json").write_text(json.dumps(chat(tok)))
    (n.night / f"{tok}2.json").write_text(json.dumps(chat(tok, "a different call")))
    tok = n.case(BAD, "a chat id equal to a recording's")
    sf.write(n.night / f"{tok}.wav", speech[:rate], rate)
    (n.night / f"{tok}chat.json").write_text(json.dumps(chat(tok)))
    inputs = [n.night, *sorted(n.manifests.iterdir())]
    return n, inputs, good


def classify(case: Case, rows: list[dict], log_text: str) -> str:
    mine = [r for r in rows if case.token in (r["source"] or "") or case.token in (r["error"] or "")
            or case.token in r["call_id"]]
    if case.kind == WARN:
        return "isolated" if case.token in log_text or mine else "dropped"
    if not mine:
        return "dropped"
    for r in mine:
        named = r["status"] == "failed" and case.token in (r["error"] or "")
        warned = r["status"] == "ok" and json.loads(r["metadata"] or "{}").get("warnings")
        if named or warned or (case.kind == ODD and r["status"] == "ok"):
            return "isolated"
    return "unnamed"


def test_ninety_bad_inputs_in_one_batch_are_each_isolated(tmp_path, samples_dir):
    night, inputs, good = build(tmp_path, samples_dir)
    assert len(night.cases) >= 80
    out = tmp_path / "out"
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    code = main(["run", *map(str, inputs), "--out", str(out), "--config", str(config), "--quiet"])
    assert code == 1, "the run must finish (exit 1: some calls failed), not crash"
    with Store(out / "wocas.duckdb", read_only=True) as store:
        rows = store.query("SELECT call_id, status, error, source, metadata FROM calls")
    log_text = "\n".join(p.read_text(errors="replace") for p in (out / "logs").glob("*.log"))
    by_id = {r["call_id"]: r for r in rows}
    for call_id in good:
        assert by_id[call_id]["status"] == "ok", (call_id, by_id[call_id]["error"])
    outcome = {c.token: classify(c, rows, log_text) for c in night.cases}
    tally = {k: sum(v == k for v in outcome.values()) for k in ("isolated", "dropped", "unnamed")}
    print(f"bad-input matrix: {len(night.cases)} cases; {tally}; crashed 0")
    wrong = [(c.token, c.what, outcome[c.token]) for c in night.cases if outcome[c.token] != "isolated"]
    assert wrong == [], wrong
