"""HTTP API v1 (docs/api.md): thin routes over the service layer."""
