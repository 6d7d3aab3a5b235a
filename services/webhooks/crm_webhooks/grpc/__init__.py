"""No gRPC API of its own: the webhooks service answers REST and delivers to subscribers."""
