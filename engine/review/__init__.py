"""The QA review app (``wocas serve``): flagged calls, their evidence, and reviewers' verdicts."""

from wocas.review.app import create_app

__all__ = ["create_app"]
