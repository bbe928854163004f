"""PMS: the Player Management System service (settings, ASGI app, CLI and domain modules)."""
