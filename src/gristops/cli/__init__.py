"""`gristops <verb>`: parse, load config, call, print, exit code."""
