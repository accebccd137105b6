"""Cross-cutting API pieces: error envelope, exception handler, middleware, health."""
