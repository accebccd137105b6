"""Prometheus metrics of the write API: definitions, request middleware, the `/metrics` view."""
