"""The read API: Faust web views served by the stream worker (replaces the seed's Gin API)."""
