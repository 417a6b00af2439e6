"""Mail from the users service (invitations) over SMTP, when TME_SMTP_HOST is set.

The stdlib's smtplib runs in a worker thread (asyncio.to_thread), so a slow server never blocks
the event loop: one mail per invitation does not justify another dependency. A failure is logged
and answered as False; the caller decides what that means (an invitation is kept either way)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from services.users.settings import UsersSettings

log = logging.getLogger("tme.users.mailer")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str


class Mailer:
    def __init__(self, settings: UsersSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    async def send(self, mail: Mail) -> bool:
        """True once the server accepted the mail; False when none is configured or it failed."""
        if not self.configured:
            return False
        try:
            await asyncio.to_thread(self._send, mail)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail not sent", extra={"error": f"{type(exc).__name__}: {exc}",
                                                "smtp_host": self.settings.smtp_host})
            return False
        return True

    def _send(self, mail: Mail) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.smtp_from or f"Track My Events <noreply@{s.smtp_host}>"
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        with smtp:
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(message)
