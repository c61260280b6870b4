"""The hybrid store: reads from a Grist server's live files, writes through its REST API."""
