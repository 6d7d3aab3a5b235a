"""The SLA clock without a database: the branch calendar (working hours in Almaty, public
holidays and their moved days off), its inverse (``subtract``, which the "about to breach"
moment is counted with), and the signals a ticket is due."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from crm_tickets.domain import sla
from crm_tickets.domain.calendar import ROUND_THE_CLOCK, WORKING_CALENDAR, kazakhstan_holidays

HOUR = 3600


def almaty(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour - 5, minute, tzinfo=UTC)  # Asia/Almaty is UTC+5


def test_holidays_and_their_moved_days_off():
    holidays = kazakhstan_holidays(2026)
    assert {date(2026, 1, 1), date(2026, 3, 23), date(2026, 12, 16), date(2026, 5, 27)} <= holidays
    # 2026-03-21 and 22 fall on Saturday and Sunday: their days off move to Tuesday and Wednesday
    # (Monday the 23rd is a holiday itself)
    assert {date(2026, 3, 24), date(2026, 3, 25)} <= holidays
    assert not WORKING_CALENDAR.is_working_day(date(2026, 3, 24))
    assert WORKING_CALENDAR.is_working_day(date(2026, 3, 26))


def test_working_time_skips_nights_weekends_and_holidays():
    friday_evening = almaty(2026, 11, 27, 17)
    # one working hour on Friday, the weekend does not count, the rest on Monday morning
    assert WORKING_CALENDAR.add(friday_evening, 3 * HOUR) == almaty(2026, 11, 30, 11)
    assert WORKING_CALENDAR.between(friday_evening, almaty(2026, 11, 30, 11)) == 3 * HOUR
    assert WORKING_CALENDAR.subtract(almaty(2026, 11, 30, 11), 3 * HOUR) == friday_evening
    # New Year: 1 and 2 January 2026 are Thursday and Friday holidays
    assert WORKING_CALENDAR.add(almaty(2025, 12, 31, 17), 2 * HOUR) == almaty(2026, 1, 5, 10)


def test_subtract_lands_on_the_close_before_a_window_that_is_used_up():
    monday_ten = almaty(2026, 11, 30, 10)
    # exactly the hour since opening: the earliest moment is Friday's close (the night is not working time)
    assert WORKING_CALENDAR.subtract(monday_ten, HOUR) == almaty(2026, 11, 27, 18)
    assert WORKING_CALENDAR.subtract(almaty(2026, 11, 29, 12), 0) == almaty(2026, 11, 27, 18)  # a Sunday


@pytest.mark.parametrize("seed", range(3))
def test_subtract_is_the_inverse_of_add(seed):
    rng = random.Random(seed)
    for _ in range(300):
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 365 * 86400))
        seconds = rng.choice((0, 720, 1440, 5760, 2 * HOUR, 9 * HOUR, 45 * HOUR, rng.randrange(1, 200_000)))
        earlier = WORKING_CALENDAR.subtract(moment, seconds)
        assert earlier <= moment
        assert WORKING_CALENDAR.between(earlier, moment) == pytest.approx(seconds)
        # and it is the earliest: one second before it, more working time or a non-working moment
        assert WORKING_CALENDAR.between(earlier - timedelta(seconds=1), moment) >= seconds
    assert ROUND_THE_CLOCK.subtract(almaty(2026, 11, 28, 12), HOUR) == almaty(2026, 11, 28, 11)


def test_the_warning_comes_at_eighty_percent_of_the_target():
    policy = sla.POLICIES[("high", "individual")]  # response 2 working hours
    opened = almaty(2026, 11, 27, 17)  # Friday 17:00
    response_due, _ = sla.due_times(policy, opened)
    assert response_due == almaty(2026, 11, 30, 10)
    # 20 % of two hours (24 minutes) before Monday 10:00
    assert sla.warning_time(policy, response_due, policy.response_s) == almaty(2026, 11, 30, 9, 36)


def test_signals_of_a_ticket_far_behind_come_at_once_and_never_twice():
    policy = sla.POLICIES[("medium", "individual")]
    opened = almaty(2026, 11, 23, 9)
    response_due, resolution_due = sla.due_times(policy, opened)
    view = sla.SlaView(policy, response_due, resolution_due, False, "ok", "ok", 0)
    weeks_later = opened + timedelta(days=14)
    kinds = [signal.kind for signal in sla.signals_due(view, weeks_later)]
    assert kinds == [
        "response_breached",
        "resolution_breached",
        "escalated_1",
        "escalated_2",
    ]  # no "at risk" after the fact
    done = sla.SlaView(policy, response_due, resolution_due, False, "breached", "breached", 2)
    assert sla.signals_due(done, weeks_later) == []
    assert sla.next_check(done) is None
