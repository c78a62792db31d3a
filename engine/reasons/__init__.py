"""Contact reasons: taxonomy, classifiers and heads."""
