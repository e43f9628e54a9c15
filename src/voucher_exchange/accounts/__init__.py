"""Accounts: sellers and staff, passwords, API tokens, roles."""
