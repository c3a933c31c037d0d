"""Koshi-qon registration service."""
