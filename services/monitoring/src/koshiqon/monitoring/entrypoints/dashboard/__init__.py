"""The monitoring dashboard (`/dashboard`): see router.py."""

from koshiqon.monitoring.entrypoints.dashboard.router import router

__all__ = ["router"]
