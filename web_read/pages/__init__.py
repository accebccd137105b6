"""The read API's internal pages (pipeline, topics): static HTML and JS, and the JSON they poll."""
