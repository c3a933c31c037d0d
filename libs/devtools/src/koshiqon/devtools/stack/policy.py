"""When a process that died is started again: as a pod's container is (CrashLoopBackOff),
after a delay that doubles with each death in a row up to a cap, the count of deaths in a
row starting over once a process has run long enough. Pure: the clock is the caller's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    initial: float = 1.0  # seconds before the first restart
    factor: float = 2.0
    maximum: float = 30.0
    reset_after: float = 60.0  # a process that ran this long died "for the first time"

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial:
            raise ValueError("want 0 < initial <= maximum and factor >= 1")
        if self.reset_after <= 0:
            raise ValueError("reset_after must be positive")

    def delay(self, failures_in_a_row: int) -> float:
        """The wait before restarting after the `failures_in_a_row`-th death in a row (1..)."""
        if failures_in_a_row < 1:
            raise ValueError("failures_in_a_row counts from 1")
        return min(self.maximum, self.initial * self.factor ** (failures_in_a_row - 1))


@dataclass
class RestartTracker:
    """One process's deaths: `died(started_at, now)` returns when to start it again."""

    policy: RestartPolicy
    restarts: int = 0  # every restart, as a pod's restartCount
    in_a_row: int = 0

    def died(self, *, started_at: float, now: float) -> float:
        """The time (same clock as `now`) at which the process is to be started again."""
        if now - started_at >= self.policy.reset_after:
            self.in_a_row = 0
        self.in_a_row += 1
        return now + self.policy.delay(self.in_a_row)

    def restarted(self) -> None:
        self.restarts += 1
