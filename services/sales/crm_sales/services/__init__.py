"""Use cases, one module per aggregate: they take plain inputs and the caller's unit of work."""
