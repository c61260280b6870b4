"""The HTTP gateway: create_app in app.py; auth, tokens, permissions, routes/ and the status page in status/."""
