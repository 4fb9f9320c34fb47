"""Sending email: the `Mailer` seam, a mailer that writes messages to the log, one that speaks SMTP, and the
`Outbox` that sends in the background.

Parse Server calls this an email adapter (`sendMail({to, subject, text})`); ours sends a `MailMessage`. Requests
never wait for a mail server: they post to the `Outbox`, whose few workers send. A request that mails a known
address then costs what one for an unknown address costs (Parse's reset and verification requests must not tell
which addresses have accounts). The outbox is bounded: when it is full a message is dropped and logged, not held
in memory without end. A failed send is logged once and not retried. On shutdown the outbox waits up to
`drain_timeout` seconds for what is queued; each message still unsent then is logged by recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
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


class Outbox:
    """Messages sent in the background by `workers` tasks, started on first use on the running loop."""

    def __init__(self, mailer: Mailer, *, capacity: int = 1000, workers: int = 4, drain_timeout: float = 10.0) -> None:
        self.mailer = mailer
        self.capacity = capacity
        self.workers = workers
        self.drain_timeout = drain_timeout
        self._queue: asyncio.Queue[MailMessage] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def post(self, message: MailMessage) -> None:
        """Queue a message and return at once; a full outbox drops it (logged)."""
        if self._queue is None:
            self._queue = asyncio.Queue(self.capacity)
            # Started by whichever request mails first: a fresh context, so nothing of that request's lives on.
            self._tasks = [
                asyncio.create_task(self._work(self._queue), context=contextvars.Context()) for _ in range(self.workers)
            ]
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            log.error("email to %s not sent: %d emails are waiting already", message.to, self.capacity)

    async def _work(self, queue: asyncio.Queue[MailMessage]) -> None:
        while True:
            message = await queue.get()
            try:
                await self.mailer.send(message)
            except asyncio.CancelledError:
                log.error("email to %s may not have been sent: the server stopped while sending it", message.to)
                raise
            except Exception:
                # As in Parse Server, a mail that cannot go out fails nothing else; it is logged, not retried.
                log.exception("could not send email to %s", message.to)
            finally:
                queue.task_done()

    async def close(self) -> None:
        """Send what is queued (for up to `drain_timeout` seconds), then stop; what is left is logged."""
        queue, tasks = self._queue, self._tasks
        self._queue, self._tasks = None, []
        if queue is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(queue.join(), self.drain_timeout)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while not queue.empty():
            log.error("email to %s not sent: the server stopped before it went out", queue.get_nowait().to)
