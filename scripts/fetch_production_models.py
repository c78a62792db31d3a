"""Fetch the production models into a local models directory, on a machine WITH internet.

WOCAS never downloads at run time: production models are loaded by path. Run this once on
a connected machine, copy the resulting folder to the batch nodes, and point the config at
it. It is never run by the tests or CI.

    pip install huggingface_hub
    python scripts/fetch_production_models.py --out /models [--only asr] [--hf-token TOKEN]

Then, for example:

    [asr]
    model = "/models/faster-whisper-large-v3"
    [diarization]
    backend = "pyannote"
    pyannote_path = "/models/speaker-diarization-community-1"
    [emotion]
    text_model = "/models/emotion-english-distilroberta-base"

Licences: each model's licence is written to LICENSES.md in the output folder; check them
against your use (pyannote's pipeline is gated and need an access token and accepted
conditions; the Whisper CTranslate2 conversions are MIT like Whisper).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# name -> (repository id, kind, licence as stated on its model card)
MODELS = {
    "faster-whisper-large-v3": ("Systran/faster-whisper-large-v3", "asr", "MIT"),
    "faster-whisper-large-v3-turbo": ("deepdml/faster-whisper-large-v3-turbo-ct2", "asr", "MIT"),
    "faster-distil-whisper-large-v3": ("Systran/faster-distil-whisper-large-v3", "asr", "MIT"),
    # pyannote.audio 4's pipeline, self-contained ($model/segmentation, embedding, plda): the
    # engine refuses configs that name hub ids, as the 3.1 pipeline's config.yaml does.
    "speaker-diarization-community-1": ("pyannote/speaker-diarization-community-1", "diarization", "see card (gated)"),
    "emotion-english-distilroberta-base": ("j-hartmann/emotion-english-distilroberta-base", "text-emotion", "see card"),
    "wav2vec2-base-superb-er": ("superb/wav2vec2-base-superb-er", "speech-emotion", "Apache-2.0"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", choices=sorted({kind for _, kind, _ in MODELS.values()}))
    parser.add_argument("--hf-token", help="access token for gated models (pyannote)")
    args = parser.parse_args()

    from huggingface_hub import snapshot_download  # imported here: only this script downloads

    args.out.mkdir(parents=True, exist_ok=True)
    licences = ["# Licences of the fetched models", ""]
    fetched = {}
    for name, (repo, kind, licence) in MODELS.items():
        if args.only and kind != args.only:
            continue
        target = args.out / name
        print(f"fetching {repo} -> {target}")
        revision = snapshot_download(repo_id=repo, local_dir=target, token=args.hf_token)
        fetched[name] = {"repo": repo, "kind": kind, "licence": licence, "path": str(revision)}
        licences.append(f"- `{name}` ({kind}): {repo} — {licence}")
    (args.out / "LICENSES.md").write_text("\n".join(licences) + "\n")
    (args.out / "fetched.json").write_text(json.dumps(fetched, indent=1))


if __name__ == "__main__":
    main()
