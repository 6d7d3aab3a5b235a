"""Qazaq CRM platform library: the mechanisms every service uses, written once."""
