"""`gristops scan`: a security audit of a deployment: config, files, the running edge, dependencies."""
