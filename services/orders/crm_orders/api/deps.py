"""The orders service's own request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from ..domain.catalog import answer_language


def _answer_language(accept_language: Annotated[str | None, Header(max_length=200)] = None) -> str:
    return answer_language(accept_language)


# kk, ru or en: the language offerings are named in (Accept-Language; the console sends its own)
AnswerLanguage = Annotated[str, Depends(_answer_language)]
