"""One client per service API, each built only on that service's contract (contracts/proto):
the services that call it share this one, with one mapping of gRPC errors to problem details and
deadlines from settings. The owning service's engineers keep its client true to its contract."""
