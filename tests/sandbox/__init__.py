"""Tests of the sandbox services' own HTTP API."""
