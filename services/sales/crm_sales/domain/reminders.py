"""The e-mail reminder of a task, in the language of the person it is assigned to (kk, ru or en;
Russian when the directory does not know it): what is due, about whom, and when, on the
Kazakhstan clock."""

from __future__ import annotations

from datetime import datetime

from .my_work import KAZAKHSTAN, Due

DEFAULT_LANGUAGE = "ru"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject.overdue": "Overdue task: {task}",
        "subject.today": "Task due today: {task}",
        "greeting": "Hello, {name}!",
        "overdue": "Your task \u201c{task}\u201d{about} was due {at} and is not done yet.",
        "today": "Your task \u201c{task}\u201d{about} is due today at {at}.",
        "about": " ({name})",
        "open": "Your tasks: {url}",
    },
    "ru": {
        "subject.overdue": "Просроченная задача: {task}",
        "subject.today": "Задача на сегодня: {task}",
        "greeting": "Здравствуйте, {name}!",
        "overdue": "Срок вашей задачи \u00ab{task}\u00bb{about} истёк {at}, а она ещё не выполнена.",
        "today": "Срок вашей задачи \u00ab{task}\u00bb{about} \u2014 сегодня в {at}.",
        "about": " ({name})",
        "open": "Ваши задачи: {url}",
    },
    "kk": {
        "subject.overdue": "Мерзімі өткен тапсырма: {task}",
        "subject.today": "Бүгінгі тапсырма: {task}",
        "greeting": "Сәлеметсіз бе, {name}!",
        "overdue": "\u00ab{task}\u00bb{about} тапсырмаңыздың мерзімі {at} өтті, ол әлі орындалмаған.",
        "today": "\u00ab{task}\u00bb{about} тапсырмаңыздың мерзімі \u2014 бүгін сағат {at}.",
        "about": " ({name})",
        "open": "Сіздің тапсырмаларыңыз: {url}",
    },
}


def reminder_text(
    *, language: str | None, person: str, task: str, related_name: str | None, due: Due, due_at: datetime, url: str
) -> tuple[str, str]:
    """(subject, body) of the reminder of one overdue or today's task."""
    words = TEXTS.get(language or DEFAULT_LANGUAGE, TEXTS[DEFAULT_LANGUAGE])
    local = due_at.astimezone(KAZAKHSTAN)
    at = local.strftime("%H:%M") if due is Due.TODAY else local.strftime("%d.%m.%Y %H:%M")
    about = words["about"].format(name=related_name) if related_name else ""
    kind = "overdue" if due is Due.OVERDUE else "today"
    subject = words[f"subject.{kind}"].format(task=task)
    body = "\n\n".join(
        (
            words["greeting"].format(name=person),
            words[kind].format(task=task, about=about, at=at),
            words["open"].format(url=url),
        )
    )
    return subject, body + "\n"
