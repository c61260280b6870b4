"""Data access: the Store protocol and its two implementations."""
