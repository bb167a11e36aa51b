"""Clients of a deployed stack, used by the operations commands: the admin API (`admin_api`)."""
