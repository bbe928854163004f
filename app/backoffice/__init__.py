"""The back-office dashboard at ``/admin``: a static single-page client of the public
GraphQL API (HTTP + graphql-transport-ws), its assets committed and vendored (no CDN)."""
