"""Data access: the Store protocol and its metrics hook (base.py), the file, server and newdoc implementations, and the store probe."""
