"""Koshi-qon quota service."""
