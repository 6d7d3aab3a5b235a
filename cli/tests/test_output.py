"""The log prefixer: every line of every process, labelled, never torn."""

from __future__ import annotations

import io
import threading

from crm_cli.output import LinePrefixer, colour_wanted


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_are_prefixed_and_names_aligned():
    out = io.StringIO()
    printer = LinePrefixer(out, colour=False, names=["crm", "gateway", "sales"])
    printer.emit("sales", "started\n")
    printer.emit("gateway", "listening\r\n")
    assert out.getvalue().splitlines() == ["sales   | started", "gateway | listening"]


def test_colour_only_when_asked_and_stable_per_process():
    plain, coloured = io.StringIO(), io.StringIO()
    LinePrefixer(plain, colour=False, names=["sales"]).emit("sales", "x")
    printer = LinePrefixer(coloured, colour=True, names=["sales", "gateway"])
    printer.emit("sales", "one")
    printer.emit("gateway", "two")
    printer.emit("sales", "three")
    assert "\x1b[" not in plain.getvalue()
    sales_lines = [line for line in coloured.getvalue().splitlines() if "sales" in line]
    gateway_line = next(line for line in coloured.getvalue().splitlines() if "gateway" in line)
    assert sales_lines[0].split("sales")[0] == sales_lines[1].split("sales")[0]  # same colour both times
    assert sales_lines[0].split("sales")[0] != gateway_line.split("gateway")[0]
    assert all(line.count("\x1b[0m") == 1 for line in coloured.getvalue().splitlines())


def test_colour_follows_the_terminal_and_no_color():
    assert colour_wanted(FakeTty(), env={}) is True
    assert colour_wanted(io.StringIO(), env={}) is False
    assert colour_wanted(FakeTty(), env={"NO_COLOR": "1"}) is False
    assert colour_wanted(io.StringIO(), env={"FORCE_COLOR": "1"}) is True


def test_tail_keeps_the_last_lines_of_each_process():
    printer = LinePrefixer(io.StringIO(), colour=False, tail_lines=3)
    for i in range(10):
        printer.emit("sales", f"line {i}")
    printer.emit("gateway", "only one")
    assert printer.tail("sales") == ["line 7", "line 8", "line 9"]
    assert printer.tail("gateway") == ["only one"]
    assert printer.tail("nobody") == []


def test_pump_copies_a_byte_stream_line_by_line_and_survives_bad_utf8():
    out = io.StringIO()
    printer = LinePrefixer(out, colour=False, names=["sales"])
    source = io.BytesIO("Сәлем\nbad \xff byte\n".encode().replace(b"\xc3\xbf", b"\xff") + b"no newline at end")
    printer.pump("sales", source)
    assert out.getvalue().splitlines() == ["sales | Сәлем", "sales | bad \ufffd byte", "sales | no newline at end"]
    assert source.closed


def test_concurrent_writers_never_tear_a_line():
    out = io.StringIO()
    printer = LinePrefixer(out, colour=False, names=["a", "b", "c"])

    def write(name: str) -> None:
        for i in range(300):
            printer.emit(name, f"{name * 50} {i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 900
    for line in lines:
        name = line[0]
        assert line.startswith(f"{name} | {name * 50} ")
