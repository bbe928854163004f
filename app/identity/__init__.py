"""Identity: credentials, tokens, MFA and the principals that call PMS."""
