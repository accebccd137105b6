"""Prometheus metrics of the write API: definitions, request middleware, the `/metrics` view."""

# prometheus_client's variable: set, every process of one gunicorn shares that folder.
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
