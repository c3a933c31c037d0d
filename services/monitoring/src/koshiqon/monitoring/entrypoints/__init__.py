"""The monitoring service's entrypoints: HTTP routes, the consumer, the scheduler, the CLI."""
