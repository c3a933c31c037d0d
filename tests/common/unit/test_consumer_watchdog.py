"""When the consumer runner replaces its consumer: only when it has stayed out of its group
(never joined since it started, or lost its partitions and never got any back) for longer
than `rejoin_timeout`. A member that joined, even with no partitions, is left alone, so an
idle member of a large group is not churned. The replacement itself runs against the real
broker in tests/common/integration/test_broker_crash.py."""

from __future__ import annotations

import time

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription


def runner(rejoin_timeout: float) -> ConsumerRunner:
    subscription = Subscription(group="g-watchdog", topics=["t"], handlers={})
    config = ConsumerConfig(bootstrap="127.0.0.1:1", rejoin_timeout=rejoin_timeout)
    return ConsumerRunner(subscription, sessions=None, config=config)  # type: ignore[arg-type]


def test_a_consumer_that_never_joined_is_stalled_past_the_timeout() -> None:
    r = runner(rejoin_timeout=0.05)
    r._left_group()
    assert not r._stalled()
    time.sleep(0.1)
    assert r._stalled()


def test_a_consumer_in_its_group_is_never_stalled_even_with_no_partitions() -> None:
    r = runner(rejoin_timeout=0.0)
    r._left_group()
    r._in_group = True  # what on_partitions_assigned records, for an empty assignment too
    time.sleep(0.01)
    assert not r._stalled()


def test_losing_the_partitions_starts_the_clock_again() -> None:
    r = runner(rejoin_timeout=0.05)
    r._in_group = True
    time.sleep(0.1)
    r._left_group()  # what on_partitions_revoked records
    assert not r._stalled()
