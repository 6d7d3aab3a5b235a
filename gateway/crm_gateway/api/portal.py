"""The customer self-service portal's API (/api/v1/portal/...): sign-in by phone and a one-time SMS
code, then the customer's own data, read from the services AS the customer (Role.CUSTOMER bound to
their customer id), so that each service applies its "self" visibility itself: anything not the
customer's own is a 404 there, and so here.

Only customer tokens pass these routes (staff tokens and API keys: 403); customer tokens pass no
other route (api/deps.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from crm_shared.auth import Principal, Role
from crm_shared.db import utcnow
from crm_shared.errors import Problem, field_problem
from crm_shared.phones import PhoneError, normalize_phone
from crm_shared.schemas import Strict

from ..domain.portal import is_code_shaped, masked_name, new_code, sign_in_message
from ..services import portal_sign_in_service
from ..state import Gateway, gateway_of
from .deps import CurrentCustomer, client_address, too_many_requests

router = APIRouter(prefix="/api/v1/portal", tags=["portal"])

# The gateway's own identity when it asks sales which customers a phone belongs to.
PHONE_DIRECTORY = Principal(
    subject="gateway-portal", username="portal sign-in", role=Role.SYSTEM, scopes=("sales:read",)
)
MAX_ACCOUNTS_PER_PHONE = 20
Id = Annotated[str, Path(min_length=1, max_length=64)]


# --- sign-in ---------------------------------------------------------------------------------------


class CodeRequest(Strict):
    phone: str = Field(min_length=1, max_length=40, description="the customer's phone, any Kazakhstan notation")


class TokenRequest(Strict):
    phone: str = Field(min_length=1, max_length=40)
    code: str = Field(min_length=1, max_length=12, description="the six digits sent by SMS")
    customer_id: str | None = Field(
        None, max_length=64, description="which account, when the phone belongs to several (the 409's choices)"
    )


class CodeAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str


class CustomerTokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    customer_id: str


def phone_of(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except PhoneError as exc:
        raise field_problem("phone", str(exc)) from None


async def admit(gateway: Gateway, subject: str, per_hour: float, burst: int, what: str) -> None:
    decision = await gateway.limiter.acquire(subject, per_hour / 60.0, burst)
    if not decision.allowed:
        raise too_many_requests(decision, f"too many {what}; try again later")


async def accounts_of_phone(gateway: Gateway, phone: str, request_id: str) -> list[dict]:
    answer = await gateway.upstreams.call(
        "sales",
        "GET",
        "/api/v1/sales/customers",
        PHONE_DIRECTORY,
        request_id=request_id,
        params={"phone": phone, "contact_phones": "true", "limit": MAX_ACCOUNTS_PER_PHONE},
    )
    answer.raise_for_status()
    return [{"id": c["id"], "name": c["display_name"]} for c in answer.json()["items"]]


@router.post(
    "/auth/code",
    status_code=202,
    response_model=CodeAccepted,
    summary="Send a one-time sign-in code by SMS to a customer's phone",
    description="The same 202 whether or not the phone belongs to a customer. Codes expire "
    "(`CRM_GATEWAY_PORTAL_CODE_TTL_S`), are used once, and are limited per phone and per client "
    "address (429 with Retry-After).",
)
async def send_code(body: CodeRequest, request: Request) -> CodeAccepted:
    gateway = gateway_of(request)
    settings = gateway.settings
    phone = phone_of(body.phone)
    await admit(
        gateway,
        f"portal-code-address:{client_address(request)}",
        settings.portal_codes_per_address_per_hour,
        settings.portal_codes_per_address_burst,
        "codes asked from this address",
    )
    await admit(
        gateway,
        f"portal-code-phone:{phone}",
        settings.portal_codes_per_phone_per_hour,
        settings.portal_codes_per_phone_burst,
        "codes for this phone",
    )
    request_id = request.state.request_id

    async def look_up_and_send() -> None:
        accounts = await accounts_of_phone(gateway, phone, request_id)
        if not accounts:
            return
        code = new_code()
        async with gateway.db.unit_of_work() as session:
            await portal_sign_in_service.store_code(
                session,
                secret=settings.jwt_secret,
                phone=phone,
                code=code,
                accounts=accounts,
                now=utcnow(),
                ttl_s=settings.portal_code_ttl_s,
            )
        await gateway.messenger.send_sms(phone, sign_in_message(code, settings.portal_code_ttl_s))

    gateway.messenger.later(look_up_and_send, "sending a sign-in code")
    return CodeAccepted(detail="if this phone belongs to a customer, a code is on its way by SMS")


@router.post(
    "/auth/token",
    response_model=CustomerTokenOut,
    summary="Exchange the SMS code for a customer access token",
    responses={
        401: {"description": "wrong, used or expired code"},
        409: {"description": "the phone belongs to several customers: repeat with one of `choices`' customer_id"},
        429: {"description": "too many guesses for this phone or from this address"},
    },
)
async def issue_customer_token(body: TokenRequest, request: Request, response: Response) -> CustomerTokenOut:
    gateway = gateway_of(request)
    settings = gateway.settings
    phone = phone_of(body.phone)
    code = body.code.strip()
    if not is_code_shaped(code):
        raise field_problem("code", "the code is six digits")
    await admit(
        gateway,
        f"portal-guess-address:{client_address(request)}",
        settings.portal_guesses_per_address_per_hour,
        settings.portal_guesses_per_address_burst,
        "code checks from this address",
    )
    await admit(
        gateway,
        f"portal-guess-phone:{phone}",
        settings.portal_guesses_per_phone_per_hour,
        settings.portal_guesses_per_phone_burst,
        "code checks for this phone",
    )
    async with gateway.db.unit_of_work() as session:
        check = await portal_sign_in_service.check_code(
            session,
            secret=settings.jwt_secret,
            phone=phone,
            code=code,
            now=utcnow(),
            max_wrong=settings.portal_code_wrong_attempts,
            use=False,
        )
        if not check.right:
            refusal = Problem(401, "Unauthorized", "the code is wrong, used or expired; ask for a new one")
        else:
            accounts = {a["id"]: a["name"] for a in check.accounts}
            chosen = body.customer_id
            if chosen is None and len(accounts) == 1:
                chosen = next(iter(accounts))
            if chosen is None:
                refusal = Problem(
                    409,
                    "Conflict",
                    "this phone belongs to several customers: repeat with the customer_id of your account",
                    errors=[{"field": "customer_id", "message": "choose one of choices"}],
                    choices=[{"customer_id": i, "name": masked_name(n)} for i, n in accounts.items()],
                )
            elif chosen not in accounts:
                refusal = field_problem("customer_id", "not an account of this phone")
            else:
                refusal = None
                await portal_sign_in_service.check_code(
                    session,
                    secret=settings.jwt_secret,
                    phone=phone,
                    code=code,
                    now=utcnow(),
                    max_wrong=settings.portal_code_wrong_attempts,
                    use=True,
                )
    if refusal is not None:  # after the commit: a wrong guess stays counted
        raise refusal
    token, expires_in = gateway.authenticator.issue_customer_token(chosen, accounts[chosen])
    response.headers["Cache-Control"] = "no-store"
    return CustomerTokenOut(access_token=token, expires_in=expires_in, customer_id=chosen)


# --- the customer's own data ---------------------------------------------------------------------


async def answer_as_customer(
    request: Request,
    caller,
    service: str,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """The service's answer to the customer's request; its problems (404 above all) pass through."""
    gateway = gateway_of(request)
    answer: httpx.Response = await gateway.upstreams.call(
        service,
        method,
        path,
        caller.principal,
        request_id=request.state.request_id,
        params=params,
        json=json,
        headers=headers,
    )
    if answer.status_code >= 400:
        try:
            problem = answer.json()
        except ValueError:
            problem = {}
        if answer.status_code >= 500:
            raise Problem(502, "Bad gateway", f"the {service} service failed", service=service)
        extra = {k: v for k, v in problem.items() if k not in {"type", "title", "status", "detail", "instance"}}
        raise Problem(answer.status_code, problem.get("title") or "Error", problem.get("detail") or "", **extra)
    return answer


async def as_customer(request: Request, caller, service: str, method: str, path: str, **options: Any) -> Any:
    """The body of the service's answer (answer_as_customer)."""
    answer = await answer_as_customer(request, caller, service, method, path, **options)
    return answer.json() if answer.content else None


def profile_of(customer: dict) -> dict:
    return {
        "id": customer["id"],
        "kind": customer["kind"],
        "name": customer["display_name"],
        "iin_masked": customer.get("iin") or customer.get("bin"),
        "primary_phone": customer.get("primary_phone"),
        "phones": customer.get("phones", []),
        "email": customer.get("email"),
        "addresses": customer.get("addresses", []),
        "language": customer.get("language"),
        "consents": {
            "marketing": customer.get("marketing_consent"),
            "marketing_at": customer.get("marketing_consent_at"),
            "data_processing": customer.get("data_processing_consent"),
            "data_processing_at": customer.get("data_processing_consent_at"),
        },
        "branch_code": customer.get("branch_code"),
        "version": customer.get("version"),
    }


@router.get(
    "/me", summary="The signed-in customer's profile: name, masked IIN/BIN, phones, e-mail, addresses, consents"
)
async def me(request: Request, caller: CurrentCustomer) -> dict:
    customer = await as_customer(
        request, caller, "sales", "GET", f"/api/v1/sales/customers/{caller.principal.customer_id}"
    )
    return profile_of(customer)


class ProfilePatch(Strict):
    """What a customer changes about themselves; consents are announced to every service and audited."""

    version: int | None = Field(None, description="the profile's version read (or send If-Match)")
    email: str | None = Field(None, max_length=254)
    language: Literal["kk", "ru", "en"] | None = None
    marketing_consent: bool | None = None
    data_processing_consent: bool | None = None


@router.patch(
    "/me",
    summary="Change one's e-mail, language, marketing and data-processing consents (If-Match or version)",
    responses={412: {"description": "changed meanwhile: read /me again"}, 428: {"description": "no version"}},
)
async def update_me(
    body: ProfilePatch,
    request: Request,
    response: Response,
    caller: CurrentCustomer,
    if_match: Annotated[str | None, Header(max_length=64)] = None,
) -> dict:
    customer = await as_customer(
        request,
        caller,
        "sales",
        "PATCH",
        f"/api/v1/sales/customers/{caller.principal.customer_id}",
        json=body.model_dump(exclude_unset=True),
        headers={"If-Match": if_match} if if_match else None,
    )
    response.headers["ETag"] = f'"{customer["version"]}"'
    return profile_of(customer)


@router.get(
    "/me/data",
    summary="Download everything the operator holds about the customer (the subject-access export)",
    description="Sales' personal-data export asked as the customer (each service checks that it is their own), "
    "audited there; sent as a download.",
)
async def my_data(request: Request, caller: CurrentCustomer) -> Response:
    customer_id = caller.principal.customer_id
    document = await as_customer(
        request, caller, "sales", "GET", f"/api/v1/sales/customers/{customer_id}/personal-data"
    )
    return JSONResponse(
        document,
        headers={
            "Content-Disposition": f'attachment; filename="my-data-{customer_id}.json"',
            "Cache-Control": "no-store",
        },
    )


class ErasureAskIn(Strict):
    reason: str | None = Field(None, max_length=1000)


@router.post(
    "/me/erasure-request",
    status_code=201,
    summary="Ask that one's personal data be destroyed: pending until a privacy officer erases it",
    description="200 with the pending request when asked again. Privacy officers find these at "
    "`GET /api/v1/sales/erasure-asks`; erasing the customer confirms it.",
)
async def ask_my_erasure(body: ErasureAskIn, request: Request, response: Response, caller: CurrentCustomer) -> dict:
    answer = await answer_as_customer(
        request,
        caller,
        "sales",
        "POST",
        f"/api/v1/sales/customers/{caller.principal.customer_id}/erasure-asks",
        json=body.model_dump(),
    )
    response.status_code = answer.status_code
    return answer.json()


class NewPhone(Strict):
    phone: str = Field(min_length=1, max_length=40)


class NewPhoneConfirmation(Strict):
    phone: str = Field(min_length=1, max_length=40)
    code: str = Field(min_length=1, max_length=12)


@router.post(
    "/me/phones",
    status_code=202,
    response_model=CodeAccepted,
    summary="Add a contact phone: a code goes to the new phone by SMS (confirm with /me/phones/confirm)",
)
async def add_my_phone(body: NewPhone, request: Request, caller: CurrentCustomer) -> CodeAccepted:
    gateway = gateway_of(request)
    settings = gateway.settings
    phone = phone_of(body.phone)
    await admit(
        gateway,
        f"portal-code-phone:{phone}",
        settings.portal_codes_per_phone_per_hour,
        settings.portal_codes_per_phone_burst,
        "codes for this phone",
    )
    code = new_code()
    async with gateway.db.unit_of_work() as session:
        await portal_sign_in_service.store_code(
            session,
            secret=settings.jwt_secret,
            phone=phone,
            code=code,
            accounts=[],
            now=utcnow(),
            ttl_s=settings.portal_code_ttl_s,
            purpose=portal_sign_in_service.adding_phone(caller.principal.customer_id),
        )

    async def send() -> None:
        await gateway.messenger.send_sms(phone, sign_in_message(code, settings.portal_code_ttl_s))

    gateway.messenger.later(send, "sending a code for a new phone")
    return CodeAccepted(detail="a code is on its way to the new phone by SMS")


@router.post(
    "/me/phones/confirm",
    status_code=201,
    summary="Confirm the new phone with the code it received; it is added to the customer's phones",
    responses={401: {"description": "wrong, used or expired code"}, 409: {"description": "another customer's phone"}},
)
async def confirm_my_phone(body: NewPhoneConfirmation, request: Request, caller: CurrentCustomer) -> dict:
    gateway = gateway_of(request)
    settings = gateway.settings
    phone = phone_of(body.phone)
    code = body.code.strip()
    if not is_code_shaped(code):
        raise field_problem("code", "the code is six digits")
    await admit(
        gateway,
        f"portal-guess-phone:{phone}",
        settings.portal_guesses_per_phone_per_hour,
        settings.portal_guesses_per_phone_burst,
        "code checks for this phone",
    )
    async with gateway.db.unit_of_work() as session:
        check = await portal_sign_in_service.check_code(
            session,
            secret=settings.jwt_secret,
            phone=phone,
            code=code,
            now=utcnow(),
            max_wrong=settings.portal_code_wrong_attempts,
            use=True,
            purpose=portal_sign_in_service.adding_phone(caller.principal.customer_id),
        )
    if not check.right:
        raise Problem(401, "Unauthorized", "the code is wrong, used or expired; ask for a new one")
    return await as_customer(
        request,
        caller,
        "sales",
        "POST",
        f"/api/v1/sales/customers/{caller.principal.customer_id}/phones",
        json={"phone": phone, "label": "mobile"},
    )


@router.get("/me/products", summary="The customer's installed products and their tariffs")
async def my_products(request: Request, caller: CurrentCustomer) -> dict:
    items = await as_customer(
        request,
        caller,
        "orders",
        "GET",
        "/api/v1/orders/installed-products",
        params={"customer_id": caller.principal.customer_id},
    )
    return {"items": items}


@router.get(
    "/me/loyalty",
    summary="The customer's loyalty account (card, tier, points), or enrolled: false",
)
async def my_loyalty(request: Request, caller: CurrentCustomer) -> dict:
    try:
        account = await as_customer(
            request, caller, "marketing", "GET", f"/api/v1/marketing/loyalty/accounts/{caller.principal.customer_id}"
        )
    except Problem as problem:
        if problem.status == 404:  # their own id: no account yet
            return {"enrolled": False}
        raise
    return {"enrolled": True} | account


@router.get("/me/orders", summary="The customer's orders, newest first")
async def my_orders(
    request: Request,
    caller: CurrentCustomer,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict:
    params: dict[str, Any] = {"customer_id": caller.principal.customer_id, "limit": limit}
    if cursor:
        params["cursor"] = cursor
    return await as_customer(request, caller, "orders", "GET", "/api/v1/orders/orders", params=params)


@router.get("/me/balance", summary="The customer's invoices, payments and what is due")
async def my_balance(request: Request, caller: CurrentCustomer) -> dict:
    return await as_customer(
        request, caller, "orders", "GET", f"/api/v1/orders/billing/customers/{caller.principal.customer_id}/balance"
    )


CUSTOMER_TICKET_FIELDS = (
    "id",
    "name",
    "description",
    "category",
    "status",
    "channel",
    "location",
    "installed_product_id",
    "created_at",
    "updated_at",
    "resolved_at",
    "closed_at",
    "rating",
)


def customer_ticket(ticket: dict) -> dict:
    """What a customer sees of a ticket: no queues, assignees, internal notes or SLA internals."""
    view = {key: ticket.get(key) for key in CUSTOMER_TICKET_FIELDS}
    sla = ticket.get("sla") or {}
    view["resolution_due_at"] = sla.get("resolution_due_at")
    if "notes" in ticket:
        view["notes"] = [
            {
                "id": n["id"],
                "text": n["text"],
                "created_at": n["created_at"],
                "from_customer": n.get("author_id", "").startswith("customer:"),
            }
            for n in ticket["notes"]
            if n.get("visibility") == "customer"
        ]
    return view


@router.get("/me/tickets", summary="The customer's tickets, newest first")
async def my_tickets(
    request: Request,
    caller: CurrentCustomer,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict:
    params: dict[str, Any] = {"customer_id": caller.principal.customer_id, "limit": limit}
    if cursor:
        params["cursor"] = cursor
    page = await as_customer(request, caller, "tickets", "GET", "/api/v1/tickets/tickets", params=params)
    return {"items": [customer_ticket(t) for t in page["items"]], "next_cursor": page.get("next_cursor")}


@router.get("/me/tickets/{ticket_id}", summary="One of the customer's tickets, with the notes meant for them")
async def my_ticket(ticket_id: Id, request: Request, caller: CurrentCustomer) -> dict:
    return customer_ticket(await as_customer(request, caller, "tickets", "GET", f"/api/v1/tickets/tickets/{ticket_id}"))


class PortalTicketCreate(Strict):
    summary: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    category: Literal["internet", "tv", "mobile", "fixed_line", "billing", "relocation", "equipment", "other"]
    installed_product_id: str | None = Field(None, min_length=1, max_length=36, description="one of /me/products")


class PortalNoteCreate(Strict):
    text: str = Field(min_length=1, max_length=4000)


class PortalRating(Strict):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=1000)


@router.post(
    "/me/tickets",
    status_code=201,
    summary="Open a ticket (self-service channel, the usual SLA of the customer's segment)",
)
async def open_my_ticket(
    body: PortalTicketCreate,
    request: Request,
    caller: CurrentCustomer,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict:
    ticket = await as_customer(
        request,
        caller,
        "tickets",
        "POST",
        "/api/v1/tickets/tickets",
        json={
            "customer_id": caller.principal.customer_id,
            "name": body.summary,
            "description": body.description,
            "category": body.category,
            "installed_product_id": body.installed_product_id,
            "channel": "self_service",
        },
        headers={"Idempotency-Key": idempotency_key} if idempotency_key else None,
    )
    return customer_ticket(ticket)


@router.post("/me/tickets/{ticket_id}/notes", status_code=201, summary="Add a note to one's open ticket")
async def add_my_note(ticket_id: Id, body: PortalNoteCreate, request: Request, caller: CurrentCustomer) -> dict:
    note = await as_customer(
        request, caller, "tickets", "POST", f"/api/v1/tickets/tickets/{ticket_id}/notes", json={"text": body.text}
    )
    return {"id": note["id"], "text": note["text"], "created_at": note["created_at"], "from_customer": True}


@router.post(
    "/me/tickets/{ticket_id}/rating",
    summary="Rate one's resolved ticket and the service, 1-5, once (CSAT)",
    responses={409: {"description": "not resolved yet, or rated already"}},
)
async def rate_my_ticket(ticket_id: Id, body: PortalRating, request: Request, caller: CurrentCustomer) -> dict:
    ticket = await as_customer(
        request,
        caller,
        "tickets",
        "POST",
        f"/api/v1/tickets/tickets/{ticket_id}/rating",
        json=body.model_dump(),
    )
    return customer_ticket(ticket)
