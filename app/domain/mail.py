"""Sending email: the `Mailer` seam, a mailer that writes messages to the log, and one that speaks SMTP.

Parse Server calls this an email adapter (`sendMail({to, subject, text})`); ours sends a `MailMessage`.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import unquote, urlsplit

from app.domain.recent_logs import OFF_THE_RECORD

log = logging.getLogger("app.mail")


@dataclass(frozen=True, slots=True)
class MailMessage:
    to: str
    subject: str
    text: str
    link: str | None = None
    """The link the message carries (verification or reset), for mailers that show it on its own."""


class Mailer(Protocol):
    async def send(self, message: MailMessage) -> None:
        """Deliver the message or raise; callers decide whether a failure matters."""


class LogMailer:
    """Writes each message to the log instead of sending it: the default, so `make run` shows the links. Never to
    `/scriptlog`: a reset link is as good as the password."""

    async def send(self, message: MailMessage) -> None:
        text = message.link or message.text
        log.info("email to %s: %s %s", message.to, message.subject, text, extra=OFF_THE_RECORD)


class SmtpMailer:
    """Sends through an SMTP server: `smtps://` is TLS from the first byte; `smtp://` upgrades with STARTTLS
    whenever the server offers it, so a password never crosses the wire in clear text if it can be helped."""

    def __init__(self, url: str, sender: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    async def send(self, message: MailMessage) -> None:
        await asyncio.to_thread(self._send, self._compose(message))

    def _compose(self, message: MailMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False, usegmt=True)
        email["Message-ID"] = make_msgid()
        email.set_content(message.text)
        return email

    def _send(self, email: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if not self.tls:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
            if self.user is not None:
                smtp.login(self.user, self.password or "")
            smtp.send_message(email)
