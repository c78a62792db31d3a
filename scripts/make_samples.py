"""Render the bundled sample calls in samples/ with espeak-ng and sox (Debian packages).

Two short scripted calls: a stereo one (agent left, customer right) at 8 kHz telephone
rate and a mono one at 16 kHz, a chat transcript (JSONL), and a manifest tying them
together. Re-running rewrites them; the truth of each call is saved beside it.

    python scripts/make_samples.py [--out samples]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

VOICES = {"agent": ("en-us+m3", 165), "customer": ("en-gb+f2", 150)}

BILLING_CALL = [
    ("agent", "Thank you for calling Northwind Energy, my name is Priya. How can I help you today?"),
    ("customer", "Hi. I am calling because I was charged twice for my direct debit this month and I am really annoyed."),
    ("agent", "I am sorry to hear that. Can I have your account number, please?"),
    ("customer", "Yes, it is four four seven, nine one two, eight."),
    ("agent", "Thank you. I can see the duplicate payment. I will refund it today."),
    ("customer", "Okay, thank you, that is a relief."),
    ("agent", "Is there anything else I can help you with?"),
    ("customer", "No, that is all. Thanks for sorting it out."),
]
DELIVERY_CALL = [
    ("agent", "Thanks for calling Parcel Express, this is Tom speaking. How can I help?"),
    ("customer", "This is the second time I am calling about my parcel. It still has not arrived and I need it for Friday."),
    ("agent", "I apologize for the trouble. Let me check the tracking for you."),
    ("customer", "Honestly, if it does not come tomorrow I will cancel the order and shop somewhere else."),
    ("agent", "I can see it is at the local depot. I will arrange a delivery for tomorrow morning."),
    ("customer", "Fine. I hope it actually turns up this time."),
]
CHAT = {
    "call_id": "chat-0001", "customer_id": "C-1003", "agent_id": "A-7", "started_at": "2026-11-02T09:14:00",
    "channel": "chat",
    "turns": [
        {"speaker": "customer", "text": "My card was declined at the shop even though I have money in my account."},
        {"speaker": "agent", "text": "Sorry about that. I can see a temporary block after a suspicious payment. I have removed it."},
        {"speaker": "customer", "text": "Great, thank you, that was quick."},
    ],
}


def speak(text: str, role: str, path: Path, rate: int) -> float:
    voice, wpm = VOICES[role]
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", str(path)], check=True)
    raw.unlink()
    out = subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True)
    return float(out.stdout)


def render(script, out_path: Path, rate: int, stereo: bool, gap: float = 0.4) -> list[dict]:
    """Lay turns out one after another; stereo puts the agent left and the customer right."""
    truth, clock = [], 0.3
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        tracks = {"agent": [], "customer": []}
        for i, (role, text) in enumerate(script):
            clip = tmpdir / f"{i}.wav"
            length = speak(text, role, clip, rate)
            tracks[role].append((clock, clip))
            truth.append({"speaker": role, "start": round(clock, 3), "end": round(clock + length, 3), "text": text})
            clock += length + gap
        total = clock + 0.3
        channel_files = []
        for role in ("agent", "customer"):
            parts = []
            for start, clip in tracks[role]:
                padded = tmpdir / f"{role}-{start:.3f}.wav"
                subprocess.run(["sox", str(clip), str(padded), "pad", f"{start}", "0"], check=True)
                parts.append(str(padded))
            track = tmpdir / f"{role}.wav"
            silence = tmpdir / f"{role}-silence.wav"
            subprocess.run(["sox", "-n", "-r", str(rate), "-c", "1", str(silence), "trim", "0", f"{total}"], check=True)
            subprocess.run(["sox", "-m", str(silence), *parts, str(track)], check=True)
            channel_files.append(str(track))
        if stereo:
            subprocess.run(["sox", "-M", *channel_files, str(out_path)], check=True)
        else:
            subprocess.run(["sox", "-m", *channel_files, str(out_path)], check=True)
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "samples")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    truth = {
        "billing-stereo-8k": render(BILLING_CALL, args.out / "billing-stereo-8k.flac", 8000, stereo=True),
        "delivery-mono-16k": render(DELIVERY_CALL, args.out / "delivery-mono-16k.flac", 16000, stereo=False),
    }
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    (args.out / "chats.jsonl").write_text(json.dumps(CHAT) + "\n")
    (args.out / "manifest.csv").write_text(
        "path,call_id,customer_id,agent_id,started_at,channels,queue,customer_value\n"
        "billing-stereo-8k.flac,billing-0001,C-1001,A-3,2026-11-02T08:02:00,\"agent,customer\",billing,1200\n"
        "delivery-mono-16k.flac,delivery-0001,C-1002,A-5,2026-11-02T08:40:00,,logistics,300\n"
        "chats.jsonl,,,,,,,\n")


if __name__ == "__main__":
    main()
