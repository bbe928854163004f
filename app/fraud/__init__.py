"""Anti-fraud: signals from the outbox stream, risk scores, rules as data, cases."""
