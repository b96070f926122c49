"""Shared test configuration: the local saltant-compatible server fixtures."""

pytest_plugins = ["saltant_provider.testing.pytest_plugin"]
