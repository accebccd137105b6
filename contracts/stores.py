"""Names inside the stores that more than one component reads or writes."""

from __future__ import annotations

# The read model's MongoDB collection: one document per live todo (the CDC agent writes it,
# the read API and the benchmark read it).
READ_MODEL_COLLECTION = "todos"
