"""No gRPC API: the analytics are aggregates for people, answered over REST (api/). The package
keeps the recipe's layer in place for when another service needs them over gRPC."""
