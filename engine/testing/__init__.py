"""Factories for tests: tiny random-weight models of production architectures."""
