"""Who may see and change subscriptions: the caller that registered one, and administrators
(services/subscription_service.visible); who may register: administrators and API keys, a key with
the read scope of every service whose events it asks for (require_subscriber)."""
