"""The HTTP gateway: create_app in app.py; auth, tokens, permissions and routes beside it."""
