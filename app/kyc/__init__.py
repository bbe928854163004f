"""KYC: document checks through third-party providers, cases, reviews and risk levels."""
