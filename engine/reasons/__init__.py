"""Contact reasons: ``taxonomy`` (the editable TOML taxonomy), ``classify`` (the example and
head classifiers), ``training`` (training a head), ``clustering`` (emerging reasons and the
per-run summary), ``statements`` (the customer's side of a call and the upstream failures they
describe), ``train_intents`` (``wocas train intents``: a head from a labelled file)."""
