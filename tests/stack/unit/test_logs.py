"""`make logs` follows every process's log as tail -F does: the last lines first, then new
lines as they are written, a half-written line once it ends, a truncated or replaced file
from its start, and a file that appears late."""

from __future__ import annotations

from pathlib import Path

from koshiqon.devtools.stack.cli import LogFollower


def test_lines_are_followed_across_truncation_replacement_and_late_files(
    tmp_path: Path,
) -> None:
    api, worker = tmp_path / "api.log", tmp_path / "worker.log"
    api.write_text("one\ntwo\nthree\n")
    follower = LogFollower({"api": api, "worker": worker}, lines=2)
    assert follower.backlog() == [("api", "two"), ("api", "three")]
    assert follower.new_lines() == []
    with api.open("a") as f:
        f.write("four\nfiv")
    assert follower.new_lines() == [("api", "four")]
    with api.open("a") as f:
        f.write("e\n")
    assert follower.new_lines() == [("api", "five")]
    worker.write_text("late\n")
    assert follower.new_lines() == [("worker", "late")]
    api.write_text("")  # truncated
    api.write_text("again\n")
    assert follower.new_lines() == [("api", "again")]
    replacement = tmp_path / "api.log.new"
    replacement.write_text("rotated\n")
    replacement.replace(api)
    assert follower.new_lines() == [("api", "rotated")]
