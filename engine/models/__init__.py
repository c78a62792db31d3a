"""Model loading: the registry, packaged parts, text encoders, LoRA and fine-tuning."""
