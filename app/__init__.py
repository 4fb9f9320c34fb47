"""ParseQL: a GraphQL-first backend compatible with Parse Server."""
