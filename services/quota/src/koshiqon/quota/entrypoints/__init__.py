"""How the quota service is driven: HTTP routes, consumed events, scheduled jobs, the command
line."""
