"""The monitoring service's adapters: its tables, repositories, the rebuild and the reference
loader."""
