"""The QA review app (``wocas serve``): flagged calls, their evidence, and reviewers' verdicts."""

__all__ = ["create_app"]


def __getattr__(name: str):
    # Lazy: a run imports wocas.review.verdicts (the verdict file's path) without the web app.
    if name == "create_app":
        from wocas.review.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
