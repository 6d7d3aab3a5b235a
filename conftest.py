pytest_plugins = ["crm_shared.testing"]
