"""Transports: REST (Parse protocol), GraphQL and websockets over the domain services."""
