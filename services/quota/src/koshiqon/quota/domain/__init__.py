"""The quota domain: plain Python, no I/O."""
