"""Todos: the write API's domain app (commands out, system-of-record reads in)."""
