"""Tests of the local saltant-compatible server."""
