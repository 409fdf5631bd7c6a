"""The HTTP API: the app factory, its routes (discovery, hooks, feedback, health, preview), the wire models
and the checks every request and response passes."""
