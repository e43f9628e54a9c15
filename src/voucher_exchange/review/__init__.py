"""Review: people deciding held trades."""
