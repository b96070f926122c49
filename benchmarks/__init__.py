"""Benchmarks of airflow-provider-saltant: deferred waits, import cost, listing.

Run them all with ``scripts/bench`` (or ``.venvs/af3/bin/python -m benchmarks``). Not part of
the test suite: they time things, and timings belong in results, not in assertions.
"""
