"""Player profiles: personal data, interface preferences, VIP status and settings history."""
