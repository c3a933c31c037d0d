"""The monitoring repositories over a unit of work's transaction."""

from koshiqon.monitoring.adapters.repository.alerts import SqlAlertRepository
from koshiqon.monitoring.adapters.repository.projections import SqlProjectionRepository
from koshiqon.monitoring.adapters.repository.statistics import SqlStatisticsRepository

__all__ = ["SqlAlertRepository", "SqlProjectionRepository", "SqlStatisticsRepository"]
