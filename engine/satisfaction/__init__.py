"""The satisfaction model."""
