"""The supervisor's restart policy: the delay doubles with each death in a row up to its cap,
and a process that ran long enough starts the count again (as a pod's CrashLoopBackOff)."""

from __future__ import annotations

import pytest

from koshiqon.devtools.stack.policy import RestartPolicy, RestartTracker


def test_the_delay_doubles_up_to_the_cap() -> None:
    policy = RestartPolicy(initial=1.0, factor=2.0, maximum=10.0)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_deaths_in_a_row_back_off_and_every_restart_is_counted() -> None:
    tracker = RestartTracker(RestartPolicy(initial=1.0, maximum=30.0, reset_after=60.0))
    now = 100.0
    waits = []
    for _ in range(4):  # each run dies after 5 s
        at = tracker.died(started_at=now, now=now + 5)
        waits.append(at - (now + 5))
        tracker.restarted()
        now = at
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert tracker.restarts == 4


def test_a_process_that_ran_long_enough_is_restarted_at_once_again() -> None:
    tracker = RestartTracker(RestartPolicy(initial=1.0, maximum=30.0, reset_after=60.0))
    tracker.died(started_at=0.0, now=1.0)
    tracker.died(started_at=2.0, now=3.0)
    assert tracker.in_a_row == 2
    at = tracker.died(started_at=10.0, now=10.0 + 60.0)  # ran a minute: a first death
    assert at == 71.0
    assert tracker.in_a_row == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": 0.0}, {"factor": 0.5}, {"initial": 5.0, "maximum": 1.0}, {"reset_after": 0.0}],
)
def test_a_policy_that_makes_no_sense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|want"):
        RestartPolicy(**kwargs)


def test_the_count_of_deaths_starts_at_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        RestartPolicy().delay(0)
