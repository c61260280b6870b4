"""New `.grist` documents built by our code: specs, Grist metadata, the schema they start from."""
