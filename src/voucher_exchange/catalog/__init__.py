"""Catalog: brands, their code formats, face values and versioned buy rates."""
