"""Password hashing at a test cost: argon2id all the same, with the lowest memory and passes.

The suite signs up and signs in hundreds of people; at the shipped cost (64 MiB × 3 passes ×
4 lanes) each hash takes ~0.3 s of both cores on the 2-core test machine. The test process
swaps the cheap hasher in (tests/conftest.py); child processes that sign up many sellers run
`voucher-exchange` through this module (`python -m tests.support.hashing serve …`).
tests/e2e/test_abuse_limits.py checks the production parameters and runs its log-in flood at
the production cost.
"""

from __future__ import annotations

from argon2 import PasswordHasher

from voucher_exchange.security import passwords

# The hasher the exchange ships with, kept before anything swaps in the cheaper one.
PRODUCTION_HASHER = passwords._hasher
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def use_hasher(hasher: PasswordHasher) -> None:
    """Hash and verify passwords with `hasher` in this process (unknown accounts too)."""
    passwords._hasher = hasher
    passwords._DUMMY = hasher.hash("not-a-real-password")


if __name__ == "__main__":
    from voucher_exchange.cli.main import app

    use_hasher(TEST_HASHER)
    app()
