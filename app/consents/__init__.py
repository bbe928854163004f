"""Consent records: marketing consent per channel and the accepted terms version, each
change a history row (who, when, source, old -> new). THE place marketing reads consent."""
