"""The Parse REST API under /parse."""
