"""Backups: consistent snapshots of documents, state and config; verify, restore, drill, prune."""
