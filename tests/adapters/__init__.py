"""Contract tests: every adapter implementation against its interface."""
