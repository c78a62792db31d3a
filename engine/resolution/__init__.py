"""The fitted call outcome (resolution) head."""
