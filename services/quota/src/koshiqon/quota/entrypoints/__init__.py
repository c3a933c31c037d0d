"""How the quota service is driven: HTTP, events, the command line."""
