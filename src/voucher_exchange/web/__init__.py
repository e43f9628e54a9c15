"""The web app: server-rendered pages (Jinja2 + htmx) for sellers, reviewers and operators."""
