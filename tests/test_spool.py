"""Long calls' audio spooled to disk (``[run] spool_audio_minutes``): the same record as held
in memory, the temporary file gone once the call is done (after success and after a failing
stage), and bad recordings still reported. The threshold is forced low so the short sample
calls are spooled."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

from tests.test_bad_input_more import TEXT_ONLY, assert_failed, make_audio_night, run
from wocas.config import AudioConfig, Config, RunConfig
from wocas.io.exports import to_rttm
from wocas.pipeline import Pipeline, build_stages
from wocas.schema import Call, CallAnalysis
from wocas.stages.base import Stage
from wocas.stages.decode import DecodeStage

SPOOL_ALL = 0.001  # minutes: every recording here is longer
CALLS = ("billing-stereo-8k.flac", "delivery-mono-16k.flac")  # stereo at 8 kHz (resampled), mono at 16 kHz


def open_spools() -> list[str]:
    """This process's open spool files (unlinked, so only their descriptors show them)."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used
            continue
        if ".wocas-pcm-" in target:
            out.append(target)
    return out


def audio_call(path) -> CallAnalysis:
    return CallAnalysis(call=Call(call_id=path.stem, source=str(path), kind="audio"))


def config_for(tmp_path, spool_minutes: float) -> Config:
    return Config.model_validate({
        "emotion": {"text_model": "lexicon"},
        "redact": {"enabled": True, "audio": True, "audio_dir": str(tmp_path / f"redacted-{spool_minutes}")},
        "run": {"spool_audio_minutes": spool_minutes, "spool_dir": str(tmp_path / "spool")},
    })


def test_spooled_reads_match_memory(samples_dir, tmp_path):
    for name in CALLS:
        call = audio_call(samples_dir / name)
        held = DecodeStage(AudioConfig()).process_call(call).audio
        spooled = DecodeStage(AudioConfig(), RunConfig(spool_audio_minutes=SPOOL_ALL, spool_dir=str(tmp_path)))\
            .process_call(call).audio
        assert not held.spooled and spooled.spooled and spooled.pcm.shape == held.pcm.shape
        assert os.listdir(tmp_path) == []  # unlinked at once: a killed run leaves nothing behind
        np.testing.assert_array_equal(np.asarray(spooled.pcm), held.pcm)
        for channel in (None, 0, held.num_channels - 1):
            np.testing.assert_array_equal(spooled.window(1234, 56789, channel), held.window(1234, 56789, channel))
        np.testing.assert_array_equal(spooled.pcm[:, 5::7], held.pcm[:, 5::7])
        np.testing.assert_array_equal(spooled.pcm[0, -100:], held.pcm[0, -100:])
        assert len(open_spools()) == 1
        spooled.release()
        assert open_spools() == []


def test_a_spooled_call_gives_the_same_record(samples_dir, tmp_path):
    """Through decode, ASR (tiny.en), diarization, turns, roles, redaction (its audio copy
    too) and the emotion stage's acoustic measures, spooled or in memory."""
    records = {}
    for minutes in (0.0, SPOOL_ALL):
        config = config_for(tmp_path, minutes)
        pipeline = Pipeline(build_stages(config, until="emotion"), config)
        records[minutes] = pipeline.process([audio_call(samples_dir / name) for name in CALLS])
        assert open_spools() == []
    for held, spooled in zip(records[0.0], records[SPOOL_ALL]):
        assert held.ok and spooled.ok, (held.error, spooled.error)
        assert to_rttm(spooled) == to_rttm(held) and spooled.speaker_segments
        assert [(t.speaker, t.start, t.end, t.text, t.words) for t in spooled.turns] == \
               [(t.speaker, t.start, t.end, t.text, t.words) for t in held.turns]
        assert [t.emotion for t in spooled.turns] == [t.emotion for t in held.turns]
        assert spooled.flags == held.flags
    written = sorted(p.name for p in (tmp_path / "redacted-0.0").iterdir())
    assert written and written == sorted(p.name for p in (tmp_path / f"redacted-{SPOOL_ALL}").iterdir())
    for wav in written:  # the redacted copies (calls with a spoken PII span)
        a, b = (sf.read(tmp_path / f"redacted-{m}" / wav, dtype="int16")[0] for m in (0.0, SPOOL_ALL))
        np.testing.assert_array_equal(a, b)
    assert os.listdir(tmp_path / "spool") == []


class Breaks(Stage):
    """A stage that fails every call, after checking the call's audio is still spooled."""

    name = "breaks"
    requires = frozenset({"audio"})
    provides = frozenset()
    seen: list[bool] = []

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        self.seen.append(call.audio.spooled and not call.audio.pcm.closed and len(open_spools()) == 1)
        raise RuntimeError("this stage always fails")


def test_spool_is_removed_after_a_failing_stage(samples_dir, tmp_path):
    config = Config.model_validate({"run": {"spool_audio_minutes": SPOOL_ALL, "spool_dir": str(tmp_path)}})
    stage = Breaks()
    out = Pipeline([DecodeStage(config.audio, config.run), stage], config).process(
        [audio_call(samples_dir / CALLS[1])])
    assert stage.seen == [True]
    assert out[0].status == "failed" and out[0].failed_stage == "breaks" and "always fails" in out[0].error
    assert open_spools() == []


def test_bad_audio_is_still_reported_when_spooled(data_dir, tmp_path):
    inputs, good = make_audio_night(tmp_path, data_dir)
    speech, rate = sf.read(data_dir / "asr/faster_whisper/jfk.flac", dtype="int16", always_2d=True)
    sf.write(tmp_path / "night" / "one_side.wav", np.concatenate([speech[:, :1], 0 * speech[:, :1]], axis=1), rate)
    code, rows = run(inputs, tmp_path / "out", TEXT_ONLY + f"spool_audio_minutes = {SPOOL_ALL}\n")
    assert code == 1
    for call_id in good:
        assert rows[call_id]["status"] == "ok", (call_id, rows[call_id]["error"])
    assert "truncated_audio" in rows["cut"]["flags"] and "truncated_audio" in rows["short"]["flags"]
    assert_failed(rows, "nan_mono", "nan_mono.wav", "NaN or infinite samples")
    assert_failed(rows, "nan_stereo", "nan_stereo.wav", "NaN or infinite samples")
    assert_failed(rows, "noise_mp3", "not a decodable audio file")
    assert rows["one_side"]["status"] == "ok" and "silent_channel" in rows["one_side"]["flags"]
    assert os.listdir(tmp_path / "out" / "tmp") == []  # the run's work area, empty again
    assert open_spools() == []


def test_a_strided_read_holds_one_block_at_a_time(tmp_path):
    """The stereo duplicate-channel check reads every step-th frame of the whole call: each
    block read for it is freed before the next, so memory stays near the subsample's size."""
    import tracemalloc

    from wocas.io.spool import STRIDED_READ_FRAMES, PcmFile

    pcm = PcmFile(2, tmp_path)
    block = np.random.default_rng(0).integers(-3000, 3000, size=(STRIDED_READ_FRAMES, 2)).astype(np.int16)
    for _ in range(24):
        pcm.append(block)
    tracemalloc.start()
    sub = pcm[:, ::20]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(sub[:, :3000], block.T[:, ::20][:, :3000])
    assert peak < 4 * sub.nbytes + 2 * block.nbytes, (peak, sub.nbytes, pcm.nbytes)  # the file is 24 blocks
    pcm.close()
