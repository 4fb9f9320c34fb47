"""The domain core: classes, objects, queries, permissions and sessions; no web or database imports."""
