"""Qazaq CRM partners service."""
