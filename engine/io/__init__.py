"""Reading inputs (audio, manifests, transcripts) and writing exports."""
