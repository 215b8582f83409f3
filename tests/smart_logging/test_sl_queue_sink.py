"""The queue in front of every sink: nothing waits for I/O, nothing queued is lost."""

from __future__ import annotations

import threading

from plugins.smart_logging.queue_sink import QueueSink


def test_lines_are_written_in_order_and_stop_writes_everything_queued() -> None:
    written: list[str] = []
    gate = threading.Event()
    closed: list[bool] = []

    def slow_write(line: str) -> None:
        gate.wait(10)
        written.append(line)

    sink = QueueSink(slow_write, name="test-sink", close=lambda: closed.append(True))
    for i in range(100):
        sink.write(f"line {i}\n")  # returns at once although the writer is stuck
    assert written == []
    gate.set()
    sink.stop()
    assert written == [f"line {i}\n" for i in range(100)]
    assert closed == [True]


def test_drain_waits_for_the_writer_and_flushes() -> None:
    written: list[str] = []
    flushes: list[int] = []
    sink = QueueSink(written.append, name="test-sink", flush=lambda: flushes.append(len(written)))
    sink.write("a\n")
    sink.write("b\n")
    assert sink.drain(10)
    assert written == ["a\n", "b\n"]
    assert flushes[-1] == 2
    sink.stop()
    assert sink.drain(10)  # after stop: nothing to wait for


def test_a_failing_target_is_counted_and_the_writer_goes_on() -> None:
    written: list[str] = []

    def picky(line: str) -> None:
        if "bad" in line:
            raise OSError("disk full")
        written.append(line)

    sink = QueueSink(picky, name="test-sink")
    for line in ("ok 1\n", "bad\n", "ok 2\n"):
        sink.write(line)
    sink.stop()
    assert written == ["ok 1\n", "ok 2\n"]
    assert sink.errors == 1
