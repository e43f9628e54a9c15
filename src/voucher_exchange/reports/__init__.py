"""Operator reports: the dashboard's figures over recent days."""
