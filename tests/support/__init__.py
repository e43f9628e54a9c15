"""Helpers shared by tests: real servers, real files, no mocks of our own layers."""
