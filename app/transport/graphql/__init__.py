"""The GraphQL API: a schema generated from the class schemas, served over HTTP and websockets."""
