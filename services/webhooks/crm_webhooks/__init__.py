"""Qazaq CRM webhooks service."""
