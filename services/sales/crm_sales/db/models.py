"""Customers and their contacts, phones and addresses (tables on SalesBase)."""
