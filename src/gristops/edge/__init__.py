"""The nginx edge: config rendering, checking and control (TLS issuance lives beside it)."""
