"""The webhooks service publishes no events of its own: it delivers the others' to subscribers."""
