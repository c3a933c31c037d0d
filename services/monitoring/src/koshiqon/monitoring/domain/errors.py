"""The monitoring service's refusals (libs/common maps them to problem+json)."""

from __future__ import annotations

from koshiqon.common.errors import Conflict, InvalidInput, NotFound


class InvalidStatistics(InvalidInput):
    """A statistical import with bad rows: every one is listed with its line and reason."""

    code = "invalid-statistics"


class FigureConflict(Conflict):
    """Different figures for a region, dataset and date already loaded: `replace=true`
    replaces them, keeping the earlier ones in the history."""

    code = "figure-conflict"


class UnknownRegion(NotFound):
    code = "unknown-region"


class InvalidPeriod(InvalidInput):
    code = "invalid-period"


class ForecastUnavailable(Conflict):
    """The region's loaded population figures are too few for a forecast (two 1 January
    figures on the same side of 2022, loaded or from annual averages)."""

    code = "forecast-unavailable"
