"""The nginx edge: config rendering, checking and control; ACME certificates in tls/."""
