"""The command-line tools (``calcinosis-cds``): serve, migrate, report, load-demo, check, dev-keys. None of
them is on the request path."""
