"""Outbound messages, for any service: e-mail over SMTP (aiosmtplib) and SMS over SMPP 3.4
(smpplib, the client side of an operator's SMSC), as the operator's mail relay and SMSC speak them.

A service's settings mix in ``OutboundSettings`` (CRM_<SVC>_SMTP_HOST, ..._SMPP_PORT, ...) and
send through ``Outbound(settings)``: ``await outbound.send(message)`` returns the id the relay or
SMSC gave the message. In the dev profile the endpoints are the capturing sinks that ``crm up``
starts (crm_shared.outbound.sinks: real SMTP and SMPP servers on loopback writing the dev outbox).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import smpplib.client
import smpplib.consts
import smpplib.gsm
from pydantic_settings import BaseSettings

log = logging.getLogger("crm.outbound")


class OutboundSettings(BaseSettings):
    """The relays a service sends through (defaults: the dev sinks of ``crm up``)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "Qazaq Telecom <noreply@qazaq-telecom.kz>"
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = "qazaqcrm"
    smpp_password: str = ""
    smpp_source_addr: str = "QazaqTel"
    outbound_timeout_s: float = 10.0


class DeliveryFailed(Exception):
    """The relay or SMSC refused the message (or could not be reached)."""


@dataclass(frozen=True)
class OutboundMessage:
    channel: str  # "sms" | "email"
    to: str  # E.164 phone or e-mail address
    body: str
    subject: str = ""
    # ours, the same for a resend: the Message-ID of an e-mail, an SMS's user_message_reference
    message_id: str = ""


@dataclass(frozen=True)
class DeliveryReceipt:
    """An SMSC's deliver_sm receipt: its message id and the final state it reports."""

    provider_message_id: str
    delivered: bool
    text: str


@dataclass(frozen=True)
class InboundSms:
    """A customer's own SMS to us (a mobile-originated deliver_sm, e.g. the reply "STOP")."""

    sender: str  # E.164
    to: str  # our short code or sender name
    text: str


class SmtpChannel:
    def __init__(self, settings: OutboundSettings) -> None:
        self.settings = settings

    async def send(self, message: OutboundMessage) -> str:
        settings = self.settings
        email = EmailMessage()
        email["From"] = settings.mail_from
        email["To"] = message.to
        email["Subject"] = message.subject
        message_id = f"<{message.message_id}@qazaq-crm>" if message.message_id else make_msgid(domain="qazaq-crm")
        email["Message-ID"] = message_id
        email.set_content(message.body)
        try:
            await aiosmtplib.send(
                email,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                start_tls=settings.smtp_starttls,
                timeout=settings.outbound_timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"smtp: {exc}") from exc
        return message_id


class SmppChannel:
    """One bound transceiver session, used from one thread (smpplib is blocking): every call runs
    on the channel's own single-thread executor, so PDUs never interleave. Receipts that arrive
    (deliver_sm) are handed to ``on_receipt`` on the event loop, the customers' own messages
    (mobile-originated deliver_sm) to ``on_inbound``."""

    def __init__(
        self,
        settings: OutboundSettings,
        on_receipt: Callable[[DeliveryReceipt], None] | None = None,
        on_inbound: Callable[[InboundSms], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_receipt = on_receipt
        self.on_inbound = on_inbound
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smpp")
        self._client = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    async def send(self, message: OutboundMessage) -> str:
        self._loop = asyncio.get_running_loop()
        return await self._loop.run_in_executor(self._executor, self._send_blocking, message)

    async def poll_receipts(self) -> None:
        """Reads what the SMSC has sent meanwhile (receipts, enquire_link) without waiting."""
        if self._client is None:
            return
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self._executor, self._poll_blocking)

    async def listen(self) -> None:
        """Binds when no session is open (replies and receipts only arrive on a bound session) and
        reads what arrived; an unreachable SMSC is tried again at the next call."""
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self._executor, self._listen_blocking)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_blocking)
        self._executor.shutdown(wait=False)

    # --- on the channel's thread ---------------------------------------------------------------

    def _connect(self):
        settings = self.settings
        client = smpplib.client.Client(
            settings.smpp_host, settings.smpp_port, timeout=settings.outbound_timeout_s, allow_unknown_opt_params=True
        )
        client.set_message_received_handler(self._received)
        client.connect()
        # one small PDU each way per message: without this, Nagle and delayed ACKs add ~40 ms a message
        client._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.bind_transceiver(system_id=settings.smpp_system_id, password=settings.smpp_password)
        self._client = client
        return client

    def _send_blocking(self, message: OutboundMessage) -> str:
        try:
            client = self._client or self._connect()
            parts, encoding, esm_class = smpplib.gsm.make_parts(message.body)
            first_id = ""
            for part in parts:
                pdu = client.send_message(
                    source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                    source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                    source_addr=self.settings.smpp_source_addr,
                    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                    destination_addr=message.to.lstrip("+"),
                    short_message=part,
                    data_coding=encoding,
                    esm_class=esm_class,
                    registered_delivery=True,
                    user_message_reference=sms_reference(message.message_id),
                )
                response_id = self._await_response(client, pdu.sequence)
                first_id = first_id or response_id
            return first_id
        except DeliveryFailed:
            raise
        except Exception as exc:  # a broken session: drop it, the next send binds again
            self._close_blocking()
            raise DeliveryFailed(f"smpp: {exc}") from exc

    def _await_response(self, client, sequence: int) -> str:
        while True:
            pdu = client.read_pdu()
            if pdu.command == "submit_sm_resp" and pdu.sequence == sequence:
                if pdu.status != 0:
                    raise DeliveryFailed(f"smpp: submit_sm refused with status {pdu.status}")
                value = pdu.message_id
                return value.decode() if isinstance(value, bytes) else str(value)
            if pdu.command == "deliver_sm":
                client._message_received(pdu)
            elif pdu.command == "enquire_link":
                client._enquire_link_received(pdu)

    def _listen_blocking(self) -> None:
        if self._client is None:
            try:
                self._connect()
            except Exception as exc:
                log.debug("SMSC not reachable for replies: %s", exc)
                self._close_blocking()
                return
        self._poll_blocking()

    def _poll_blocking(self) -> None:
        try:
            self._client.poll()
        except Exception:
            log.warning("SMPP session lost while reading receipts; binding again at the next send")
            self._close_blocking()

    def _received(self, pdu, **_kwargs) -> None:
        raw = pdu.short_message or b""
        if self._loop is None:
            return
        if not (int(pdu.esm_class or 0) & ESM_SMSC_RECEIPT):  # the customer's own message
            text = raw.decode("utf-16-be", errors="replace") if pdu.data_coding == 0x08 else _latin(raw)
            sender = _text(pdu.source_addr)
            if self.on_inbound is not None and sender:
                inbound = InboundSms("+" + sender.lstrip("+"), _text(pdu.destination_addr), text)
                self._loop.call_soon_threadsafe(self.on_inbound, inbound)
            return
        receipt = parse_receipt(_latin(raw))
        if receipt is not None and self.on_receipt is not None:
            self._loop.call_soon_threadsafe(self.on_receipt, receipt)

    def _close_blocking(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.unbind()
        except Exception:
            pass
        try:
            client.disconnect()
        except Exception:
            pass


def sms_reference(message_id: str) -> int | None:
    """Our reference of an SMS in submit_sm's user_message_reference (two bytes, from our message
    id): a resend after a crash carries the same one, so an SMSC that suppresses duplicates (same
    sender account, destination, reference and text) recognises the retransmission."""
    if not message_id:
        return None
    return int(hashlib.sha256(message_id.encode()).hexdigest()[:4], 16) or 1


ESM_SMSC_RECEIPT = 0x04  # esm_class of a deliver_sm that is an SMSC delivery receipt


def _latin(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _text(value: bytes | str | None) -> str:
    return _latin(value or b"")


def parse_receipt(text: str) -> DeliveryReceipt | None:
    """The SMPP 3.4 appendix B receipt text: "id:IIIII sub:001 dlvrd:001 ... stat:DELIVRD ..."."""
    fields = dict(part.split(":", 1) for part in text.split() if ":" in part)
    if "id" not in fields or "stat" not in fields:
        return None
    return DeliveryReceipt(fields["id"], fields["stat"].upper() == "DELIVRD", text)


class Outbound:
    """Both channels of one process."""

    def __init__(
        self,
        settings: OutboundSettings,
        on_receipt: Callable[[DeliveryReceipt], None] | None = None,
        on_inbound: Callable[[InboundSms], None] | None = None,
    ) -> None:
        self.email = SmtpChannel(settings)
        self.sms = SmppChannel(settings, on_receipt, on_inbound)

    async def send(self, message: OutboundMessage) -> str:
        channel = self.sms if message.channel == "sms" else self.email
        return await channel.send(message)

    async def close(self) -> None:
        await self.sms.close()
