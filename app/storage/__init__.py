"""Storage: the only layer that talks to the database driver."""
