"""Qazaq CRM orders service."""
