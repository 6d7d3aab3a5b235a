def register_servicers(server, runtime) -> None:
    """Adds the sales gRPC servicers to ``server`` (filled in with crm.sales.v1.CustomerService)."""
