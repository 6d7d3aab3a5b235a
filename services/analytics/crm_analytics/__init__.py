"""Qazaq CRM analytics service."""
