"""Leads, opportunities and activities (tables on SalesBase)."""
