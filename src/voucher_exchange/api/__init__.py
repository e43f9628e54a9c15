"""HTTP API v1 (PRODUCT.md §6): thin routes over the service layer."""
