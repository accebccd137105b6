"""Faults beyond a crash: outages of each dependency, slow and resetting connections."""
