"""The GraphQL types, inputs, errors and loaders of PMS. The schema itself is assembled
by the composition root: ``pms.schema.build_schema``."""
