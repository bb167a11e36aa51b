"""Local development system: the DashScope stand-in and the launcher."""
