"""Qazaq CRM marketing service."""
