"""Device models of a service area; one model a file, each pure and free of I/O."""
