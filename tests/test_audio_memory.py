"""Audio held as int16 with float32 read in windows: the decoded call is exactly what
faster-whisper's own decoder gives, the views read the same samples as the whole-call
arrays did, the streamed VAD gives silero's whole-call timestamps, and decoding a long
stereo file allocates little beyond the int16 call itself."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from wocas.schema import Audio

MONO = "calls_synthetic/dialogue_60s_mono16k.flac"
STEREO = "calls_synthetic/dialogue_60s_stereo16k.flac"


@pytest.mark.parametrize("name", [MONO, STEREO])
def test_decoded_audio_is_int16_and_reads_as_faster_whisper_decodes(data_dir, name):
    from faster_whisper import decode_audio

    from wocas.io.audio import decode

    audio = decode(data_dir / name)
    assert audio.pcm.dtype == np.int16 and audio.pcm.flags["C_CONTIGUOUS"]
    reference = decode_audio(str(data_dir / name), split_stereo=audio.num_channels == 2)
    reference = np.stack(reference) if isinstance(reference, tuple) else reference[None]
    assert audio.pcm.shape == reference.shape
    for c in range(audio.num_channels):
        np.testing.assert_array_equal(audio.window(channel=c), reference[c])
        view = audio.channel(c)
        assert len(view) == audio.num_samples
        np.testing.assert_array_equal(view[16000:48000], reference[c, 16000:48000])
    mix = reference.mean(axis=0) if audio.num_channels > 1 else reference[0]
    np.testing.assert_array_equal(np.asarray(audio.mix()), mix)
    np.testing.assert_array_equal(audio.mix()[1000:5000], mix[1000:5000])
    assert audio.mix()[5000:1000].size == 0


def test_float_input_is_converted_to_int16():
    x = np.array([[0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0]], dtype=np.float32)
    audio = Audio(samples=x, sample_rate=16000, original_sample_rate=16000)
    assert audio.pcm.dtype == np.int16
    assert audio.pcm.tolist() == [[0, 16384, -16384, 32767, -32768, 32767, -32768]]  # clipped, not wrapped
    np.testing.assert_allclose(audio.samples[0, :3], x[0, :3])
    with pytest.raises(ValueError, match="int16"):
        Audio(pcm=np.zeros((1, 4), dtype=np.float32), sample_rate=16000, original_sample_rate=16000)


def test_streamed_vad_gives_the_whole_call_timestamps(data_dir, monkeypatch):
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    from wocas.diarizers import vad
    from wocas.io.audio import decode

    audio = decode(data_dir / MONO)
    whole = get_speech_timestamps(torch.from_numpy(audio.window()), load_silero_vad(onnx=True), threshold=0.5,
                                  sampling_rate=16000, min_speech_duration_ms=200, min_silence_duration_ms=100,
                                  return_seconds=True)
    monkeypatch.setattr(vad, "VAD_BLOCK_WINDOWS", 100)  # 3.2 s blocks: many seams
    streamed = vad.speech_regions(audio.mix(), 16000)
    assert len(streamed) > 10
    assert streamed == [(float(s["start"]), float(s["end"])) for s in whole]


def decode_overhead(data_dir, tmp_path, minutes: int) -> int:
    """Bytes the streaming decode allocated at its peak beyond the int16 call it returns."""
    from wocas.stages.decode import decode_streaming

    piece, rate = sf.read(data_dir / STEREO, dtype="int16")
    path = tmp_path / f"long{minutes}.wav"
    sf.write(path, np.concatenate([piece] * minutes), rate, subtype="PCM_16")
    tracemalloc.start()
    audio = decode_streaming(str(path), 16000, max_duration=3600, min_rms_dbfs=-70)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert audio.pcm.dtype == np.int16 and audio.pcm.nbytes == 2 * 2 * minutes * 60 * 16000
    np.testing.assert_array_equal(audio.pcm[:, len(piece):2 * len(piece)], piece.T)
    return peak - audio.pcm.nbytes


def test_long_stereo_decode_allocates_nothing_that_grows_beyond_the_int16_call(data_dir, tmp_path):
    short, long = decode_overhead(data_dir, tmp_path, 3), decode_overhead(data_dir, tmp_path, 9)
    # one 30 s block in float32 (and its float64 energy, its int16 copy): the same at any length,
    # where a float32 copy of the call would add 2 x 34.6 MB between 3 and 9 minutes
    assert long < short + 1_000_000, (short, long)
    assert long < 16_000_000


def test_redacted_copy_is_written_in_blocks_exactly(tmp_path, data_dir, monkeypatch):
    from wocas.stages import redact

    audio = Audio(pcm=np.ascontiguousarray(sf.read(data_dir / STEREO, dtype="int16")[0].T), sample_rate=16000,
                  original_sample_rate=16000)
    monkeypatch.setattr(redact, "WRITE_BLOCK_SECONDS", 7.0)  # spans cross block edges
    spans = [(6.5, 7.5), (13.9, 14.2), (40.0, 41.0)]
    whole = redact.silence(audio, spans)
    assert (whole[:, int(6.5 * 16000):int(7.5 * 16000)] == 0).all()
    block = int(redact.WRITE_BLOCK_SECONDS * 16000)
    pieces = np.concatenate([redact.silence(audio, spans, s, s + block) for s in range(0, audio.num_samples, block)],
                            axis=1)
    np.testing.assert_array_equal(pieces, whole)
    untouched = np.ones(audio.num_samples, dtype=bool)
    for a, b in spans:
        untouched[int(a * 16000):int(np.ceil(b * 16000))] = False
    np.testing.assert_array_equal(whole[:, untouched], audio.pcm[:, untouched])
