"""Koshi-qon registration service."""

__version__ = "0.1.0"
