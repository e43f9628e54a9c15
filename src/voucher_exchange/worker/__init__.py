"""The worker entrypoint: claims jobs and runs their handlers."""
