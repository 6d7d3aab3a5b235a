"""The dev profile's capturing relays: a real SMTP server (aiosmtpd) and a minimal SMPP 3.4 SMSC
on loopback that accept every message and append it to the dev outbox (a JSON-lines file), which
the console's outbox and GET /api/v1/admin/dev-outbox read. ``crm up`` starts them as one
supervised process:

    python -m crm_shared.outbound.sinks --smtp-port 8025 --smpp-port 2775 --outbox var/dev-outbox.jsonl

Like an operator's relay set to suppress duplicates, both drop a retransmission: an e-mail whose
Message-ID was already taken for that recipient, an SMS with the same sender account, destination,
user_message_reference and text as one taken before (answered with the first one's message id).

The SMSC speaks what a client needs: bind_transceiver / bind_transmitter, submit_sm (answered
with a message id, then a deliver_sm delivery receipt when one was asked for), enquire_link and
unbind. A customer's reply is injected the way a handset's message reaches an SMSC: a session bound
with the system id ``handset`` submits it (``send_reply``, or ``--reply-from +7701... --text STOP``
on the command line) and the SMSC hands it to every other bound session as a mobile-originated
deliver_sm. Never part of a production deployment."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import socket
import struct
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import smpplib.client
import smpplib.consts
import smpplib.gsm
from aiosmtpd.smtp import SMTP

log = logging.getLogger("crm.outbound.sinks")

BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x01, 0x02, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x04, 0x05, 0x06, 0x15
RESP = 0x80000000
GENERIC_NACK = 0x80000000
ESME_RINVCMDID = 0x03


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DevOutbox:
    """The JSON-lines file every captured message is appended to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.taken: dict[tuple, str] = {}  # a message's identity -> the message id it was given

    def first_taken(self, identity: tuple, message_id: str) -> str | None:
        """The message id of an earlier message with this identity (this one is a retransmission),
        else None (and this one is remembered)."""
        if identity in self.taken:
            return self.taken[identity]
        self.taken[identity] = message_id
        return None

    def append(self, channel: str, to: str, subject: str, body: str, message_id: str) -> None:
        record = {"channel": channel, "to": to, "subject": subject, "body": body, "message_id": message_id}
        record["sent_at"] = _now()
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_outbox(path: Path, to: str | None = None, limit: int = 500) -> list[dict]:
    """The captured messages, newest first (to one address when ``to`` is given)."""
    if not path.exists():
        return []
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if to is None or item.get("to") == to or item.get("to") == to.lstrip("+"):
            items.append(item)
    return items[::-1][:limit]


class _MailHandler:
    def __init__(self, outbox: DevOutbox) -> None:
        self.outbox = outbox

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        message_id = str(message["Message-ID"] or "")
        for recipient in envelope.rcpt_tos:
            if message_id and self.outbox.first_taken(("email", recipient, message_id), message_id) is not None:
                continue  # a retransmission of a message already taken
            self.outbox.append("email", recipient, str(message["Subject"] or ""), text, message_id)
        return "250 Message accepted for delivery"


def _cstring(data: bytes, offset: int) -> tuple[str, int]:
    end = data.index(b"\x00", offset)
    return data[offset:end].decode("latin-1"), end + 1


USER_MESSAGE_REFERENCE = 0x0204


def _tlvs(data: bytes) -> dict[int, bytes]:
    """The optional parameters after a PDU's mandatory ones: tag -> value."""
    found = {}
    while len(data) >= 4:
        tag, size = struct.unpack(">HH", data[:4])
        found[tag], data = data[4 : 4 + size], data[4 + size :]
    return found


def _pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def _decode_text(data_coding: int, payload: bytes, esm_class: int) -> str:
    if esm_class & 0x40 and payload:  # a user data header (concatenated parts) comes first
        payload = payload[payload[0] + 1 :]
    if data_coding == 0x08:
        return payload.decode("utf-16-be", errors="replace")
    return payload.decode("latin-1")


HANDSET_SYSTEM_ID = "handset"  # a session that speaks for customers' phones: its messages are replies


class SmscProtocol(asyncio.Protocol):
    def __init__(self, outbox: DevOutbox, sessions: set[SmscProtocol] | None = None) -> None:
        self.outbox = outbox
        self.sessions = sessions if sessions is not None else set()
        self.system_id = ""
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.sequence = 0x7FFF0000

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:  # a receipt written right after its response must not wait for an ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc) -> None:
        self.sessions.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 16:
            (length,) = struct.unpack(">I", self.buffer[:4])
            if len(self.buffer) < length:
                return
            pdu, self.buffer = self.buffer[:length], self.buffer[length:]
            self._handle(pdu)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _handle(self, pdu: bytes) -> None:
        _length, command_id, _status, sequence = struct.unpack(">IIII", pdu[:16])
        body = pdu[16:]
        if command_id in (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER):
            self.system_id, _ = _cstring(body, 0)
            if command_id != BIND_TRANSMITTER:
                self.sessions.add(self)
            self._send(_pdu(command_id | RESP, 0, sequence, b"crm-dev-smsc\x00"))
        elif command_id == ENQUIRE_LINK:
            self._send(_pdu(ENQUIRE_LINK | RESP, 0, sequence))
        elif command_id == UNBIND:
            self._send(_pdu(UNBIND | RESP, 0, sequence))
            if self.transport is not None:
                self.transport.close()
        elif command_id == SUBMIT_SM:
            self._submit(body, sequence)
        elif command_id & RESP:
            return  # deliver_sm_resp and the like
        else:
            self._send(_pdu(GENERIC_NACK, ESME_RINVCMDID, sequence))

    def _submit(self, body: bytes, sequence: int) -> None:
        _service_type, offset = _cstring(body, 0)
        offset += 2
        source, offset = _cstring(body, offset)
        offset += 2
        destination, offset = _cstring(body, offset)
        esm_class = body[offset]
        offset += 3
        _schedule, offset = _cstring(body, offset)
        _validity, offset = _cstring(body, offset)
        registered_delivery, _replace, data_coding, _default_id, length = body[offset : offset + 5]
        offset += 5
        payload = body[offset : offset + length]
        message_id = uuid.uuid4().hex[:20]
        if self.system_id == HANDSET_SYSTEM_ID:
            self._send(_pdu(SUBMIT_SM | RESP, 0, sequence, message_id.encode() + b"\x00"))
            for session in list(self.sessions):
                if session is not self and session.system_id != HANDSET_SYSTEM_ID:
                    session._deliver(source, destination, 0x00, data_coding, payload)
            return
        text = _decode_text(data_coding, payload, esm_class)
        reference = _tlvs(body[offset + length :]).get(USER_MESSAGE_REFERENCE)
        identity = ("sms", self.system_id, destination, reference, bytes(payload))
        earlier = self.outbox.first_taken(identity, message_id) if reference is not None else None
        if earlier is not None:  # a retransmission: answered as the first time, not captured again
            message_id = earlier
        else:
            self.outbox.append("sms", "+" + destination.lstrip("+"), "", text, message_id)
        self._send(_pdu(SUBMIT_SM | RESP, 0, sequence, message_id.encode() + b"\x00"))
        if registered_delivery & 0x01:
            self._receipt(message_id, source, destination)

    def _receipt(self, message_id: str, source: str, destination: str) -> None:
        stamp = datetime.now(UTC).strftime("%y%m%d%H%M")
        text = f"id:{message_id} sub:001 dlvrd:001 submit date:{stamp} done date:{stamp} stat:DELIVRD err:000 text:"
        # from the handset back to the sender: esm_class 0x04, an SMSC delivery receipt
        self._deliver(destination, source, 0x04, 0x00, text.encode("latin-1"))

    def _deliver(self, source: str, destination: str, esm_class: int, data_coding: int, payload: bytes) -> None:
        self.sequence += 1
        body = (
            b"\x00"  # service_type
            + bytes([1, 1])
            + source.encode()
            + b"\x00"
            + bytes([0, 0])
            + destination.encode()
            + b"\x00"
            + bytes([esm_class, 0, 0])
            + b"\x00\x00"  # schedule, validity
            + bytes([0, 0, data_coding, 0, len(payload)])
            + payload
        )
        self._send(_pdu(DELIVER_SM, 0, self.sequence, body))


async def serve(smtp_host: str, smtp_port: int, smpp_port: int, outbox_path: Path) -> None:
    outbox = DevOutbox(outbox_path)
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(_MailHandler(outbox), hostname="crm-dev-mail"), smtp_host, smtp_port)
    sessions: set[SmscProtocol] = set()
    smsc = await loop.create_server(lambda: SmscProtocol(outbox, sessions), smtp_host, smpp_port)
    log.info(
        "dev sinks: SMTP on %s:%d, SMPP on %s:%d, outbox %s", smtp_host, smtp_port, smtp_host, smpp_port, outbox_path
    )
    async with smtp, smsc:
        await asyncio.gather(smtp.serve_forever(), smsc.serve_forever())


def send_reply(host: str, smpp_port: int, sender: str, text: str, to: str = "1414") -> None:
    """A customer's SMS (from ``sender``, E.164) to our short code, submitted as the handset."""
    client = smpplib.client.Client(host, smpp_port, timeout=10)
    client.connect()
    try:
        client.bind_transmitter(system_id=HANDSET_SYSTEM_ID, password="")
        parts, encoding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_INTL,
                source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                source_addr=sender.lstrip("+"),
                dest_addr_ton=smpplib.consts.SMPP_TON_UNK,
                dest_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                destination_addr=to,
                short_message=part,
                data_coding=encoding,
                esm_class=esm_class,
            )
            client.read_pdu()  # submit_sm_resp
        client.unbind()
    finally:
        client.disconnect()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Dev capturing SMTP and SMPP servers (never in production)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--smpp-port", type=int, default=2775)
    parser.add_argument("--outbox", type=Path, default=Path("var/dev-outbox.jsonl"))
    parser.add_argument("--reply-from", help="send one customer reply (E.164) to the running SMSC, then exit")
    parser.add_argument("--text", default="STOP", help="the reply's text (with --reply-from)")
    args = parser.parse_args(argv)
    if args.reply_from:
        send_reply(args.host, args.smpp_port, args.reply_from, args.text)
        return
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.smtp_port, args.smpp_port, args.outbox))


if __name__ == "__main__":
    main()
