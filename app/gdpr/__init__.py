"""GDPR subject access and portability: everything we hold about one player."""
