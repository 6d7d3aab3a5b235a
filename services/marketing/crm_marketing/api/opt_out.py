"""The opt-out link of every campaign e-mail: GET /api/v1/marketing/opt-out/{token}. No login: the
signed token is the authorisation (it names one delivery, services/opt_out_service.py). It records
the opt-out (sales is told by the sender's loop) and answers a small page in the recipient's
language; a token that is not ours is a 404."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from crm_shared.api import Now, Session, Settings
from crm_shared.domain import RecordNotFound
from crm_shared.errors import openapi_problems

from ..services import opt_out_service

router = APIRouter(prefix="/api/v1/marketing", tags=["opt-out"])

PAGES = {
    "kk": ("Жазылымнан бас тарттыңыз", "Сізге бұдан былай жарнамалық хабарламалар жіберілмейді. Рахмет!"),
    "ru": ("Вы отписались", "Мы больше не будем присылать вам рекламные сообщения. Спасибо!"),
    "en": ("You are unsubscribed", "We will not send you marketing messages any more. Thank you!"),
}


def confirmation_page(language: str | None) -> str:
    language = language if language in PAGES else "ru"
    title, text = (escape(part) for part in PAGES[language])
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title></head><body style="font-family: sans-serif; margin: 3em auto; max-width: 32em">'
        f"<h1>{title}</h1><p>{text}</p><p>Qazaq Telecom</p></body></html>"
    )


@router.get(
    "/opt-out/{token}",
    response_class=HTMLResponse,
    summary="Opt out of marketing by the link of a campaign e-mail (no login: the token authorises)",
    responses=openapi_problems(404),
)
async def opt_out_by_link(
    token: Annotated[str, Path(min_length=3, max_length=200)], session: Session, settings: Settings, now: Now
) -> HTMLResponse:
    delivery = await opt_out_service.opt_out_by_link(session, settings.internal_token_secret, token, now)
    if delivery is None:
        raise RecordNotFound("opt-out link", token[:36])
    return HTMLResponse(confirmation_page(delivery.language))
