"""ACME certificates for the edge: the ACME client, issuance and renewal, certificate files, the self-signed bootstrap, status, records and metrics."""
