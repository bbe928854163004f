"""Marketing-list imports: validated as a dry run, applied on confirmation, idempotent."""
