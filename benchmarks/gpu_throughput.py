"""Throughput of the batched GPU ASR path, in audio hours per GPU hour.

Runs the engine's own ``TranscribeStage`` (faster-whisper's ``BatchedInferencePipeline``,
compute type and batch size chosen for the device exactly as a nightly run would) over
calls built by tiling real recordings, and reports audio hours per GPU hour for each batch
size, with the GPU's peak memory. Meant for a CUDA machine; ``--random-large-v3 DIR``
first builds a Whisper large-v3-sized model with random weights and converts it to
CTranslate2 (float16) when no real production weights are at hand. Random weights decode
garbage, so they would run every window to the 448-token limit; ``--max-new-tokens`` caps
them at about what real speech needs, and the report says so.

    python -m benchmarks.gpu_throughput --model tiny.en --audio clip.npy --out gpu_tiny.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np


log = logging.getLogger("gpu_throughput")


def build_random_large_v3(out_dir: Path, tokenizer_dir: Path) -> Path:
    """Whisper large-v3 dimensions (1.55 B parameters, 128 mel bins), random weights, in
    CTranslate2 float16. Nothing is downloaded: the config is written out by hand."""
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    hf_dir = out_dir.with_name(out_dir.name + "-hf")
    config = WhisperConfig(
        vocab_size=51866, num_mel_bins=128, d_model=1280, encoder_layers=32, decoder_layers=32,
        encoder_attention_heads=20, decoder_attention_heads=20, encoder_ffn_dim=5120,
        decoder_ffn_dim=5120, max_source_positions=1500, max_target_positions=448,
        decoder_start_token_id=50258, eos_token_id=50257, pad_token_id=50257, bos_token_id=50257,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = WhisperForConditionalGeneration(config).half()
    model.generation_config.alignment_heads = [[i, j] for i in range(24, 32) for j in range(0, 20, 5)]
    model.save_pretrained(hf_dir)
    del model
    for name in ("tokenizer.json",):
        (hf_dir / name).write_bytes((tokenizer_dir / name).read_bytes())
    TransformersConverter(str(hf_dir), copy_files=["tokenizer.json"]).convert(
        str(out_dir), quantization="float16", force=True)
    (out_dir / "preprocessor_config.json").write_text(json.dumps({
        "feature_size": 128, "hop_length": 160, "n_fft": 400, "n_samples": 480000,
        "chunk_length": 30, "sampling_rate": 16000}))
    return out_dir


class GpuMemoryPeak:
    """Polls the GPU's used memory (NVML) in a thread; ``peak`` in bytes."""

    def __init__(self) -> None:
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def used(self) -> int:
        return int(self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.used())
            time.sleep(0.05)

    def __enter__(self) -> "GpuMemoryPeak":
        self.peak = self.used()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def tiled_calls(clip: np.ndarray, minutes: float, n: int) -> list[np.ndarray]:
    """``n`` calls of ``minutes`` each, tiled from the clip, each starting at a different offset
    so no two calls are the same samples."""
    length = int(minutes * 60 * 16000)
    reps = int(np.ceil((length + len(clip)) / len(clip)))
    long = np.tile(clip, reps)
    step = len(clip) // max(1, n)
    return [long[i * step:i * step + length] for i in range(n)]


def asr_stage(model: str, batch_size: int, beam_size: int, max_new_tokens: int | None, own_model: bool):
    from wocas.config import AsrConfig
    from wocas.stages import transcribe as tr

    stage = tr.TranscribeStage(AsrConfig(model=model, device="cuda", batch_size=batch_size,
                                         beam_size=beam_size))
    if own_model:  # a second ASR worker on the same GPU holds its own copy (as a Ray actor would)
        stage._model = tr.load_whisper.__wrapped__(str(stage.entry.path), "cuda", stage.compute_type, 0)
        from faster_whisper import BatchedInferencePipeline

        if stage.batch_size == 0:
            stage.batch_size = tr.pick_batch_size(tr.free_gpu_bytes(), sum(
                f.stat().st_size for f in stage.entry.path.glob("*.bin")), beam_size)
        stage.batched = BatchedInferencePipeline(stage._model)
    stage.model  # load, and pick the batch size when it is 0
    if max_new_tokens is not None:
        original = stage.batched.transcribe

        def capped(*args, **kwargs):
            return original(*args, max_new_tokens=max_new_tokens, **kwargs)

        stage.batched.transcribe = capped
    return stage


def measure(model: str, calls: list[np.ndarray], batch_size: int, beam_size: int,
            max_new_tokens: int | None, workers: int = 1) -> dict:
    stages = [asr_stage(model, batch_size, beam_size, max_new_tokens, own_model=i > 0) for i in range(workers)]
    stage = stages[0]
    for s in stages:
        s.transcribe(calls[0][: 16000 * 60], None)  # warm-up: CUDA kernels, VAD session
    counts = [0] * workers

    def work(i: int) -> None:
        for samples in calls[i::workers]:
            counts[i] += len(stages[i].transcribe(samples, None)[0])

    with GpuMemoryPeak() as memory:
        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    words = sum(counts)
    audio_hours = sum(len(c) for c in calls) / 16000 / 3600
    return {"asr_workers_per_gpu": workers, "batch_size_setting": batch_size, "batch_size": stage.batch_size,
            "compute_type": stage.compute_type, "beam_size": beam_size, "max_new_tokens": max_new_tokens,
            "calls": len(calls), "audio_hours": round(audio_hours, 4), "wall_seconds": round(wall, 2),
            "audio_hours_per_gpu_hour": round(audio_hours / (wall / 3600), 1),
            "words": words, "gpu_peak_memory_gb": round(memory.peak / 1e9, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="registry name or CTranslate2 Whisper directory")
    parser.add_argument("--random-large-v3", type=Path, help="build a random large-v3 here and measure it")
    parser.add_argument("--tokenizer-dir", type=Path, help="where a Whisper tokenizer.json is (random model)")
    parser.add_argument("--audio", type=Path, required=True, help="16 kHz int16 .npy of real speech")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each call")
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--batch-sizes", default="0,8,16,32", help="0 = chosen from free GPU memory")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--workers", default="1", help="ASR workers sharing the GPU, e.g. 1,2,4")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    clip = np.load(args.audio).astype(np.float32) / 32767.0
    calls = tiled_calls(clip, args.minutes, args.calls)
    model, name, weights = args.model, args.model, "real"
    started = time.perf_counter()
    if args.random_large_v3:
        model = str(build_random_large_v3(args.random_large_v3, args.tokenizer_dir))
        name, weights = "large-v3 (random weights)", "random"
    build_seconds = time.perf_counter() - started
    import ctranslate2

    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            runs.append(measure(model, calls, batch_size, args.beam_size, args.max_new_tokens, workers))
            log.info("%s", runs[-1])
    import pynvml

    pynvml.nvmlInit()
    gpu = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
    result = {"model": name, "weights": weights, "model_path": model, "gpu": str(gpu),
              "ctranslate2": ctranslate2.__version__, "cpu_cores": os.cpu_count(),
              "audio_clip_seconds": round(len(clip) / 16000, 1), "call_minutes": args.minutes,
              "build_seconds": round(build_seconds, 1), "runs": runs}
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
