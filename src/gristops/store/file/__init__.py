"""The embedded store: `.grist` SQLite documents read and written in this process."""
