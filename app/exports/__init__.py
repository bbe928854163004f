"""CRM and ERP exports: incremental by cursor, consent-aware, written as signed bundles."""
