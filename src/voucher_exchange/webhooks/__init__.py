"""Webhooks: a seller's endpoints, the events written with the facts, and their signed delivery."""
