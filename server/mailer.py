"""Mailing personal links (only when SMTP is configured)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import structlog

from server.config import SmtpSettings

log = structlog.get_logger("halqa.mail")

SUBJECT = {
    "fr": "Votre lien personnel",
    "ar": "رابطك الشخصي",
    "en": "Your personal link",
}
BODY = {
    "fr": "Bonjour {name},\n\nVoici votre lien personnel pour suivre l'événement :\n{url}\n",
    "ar": "مرحبًا {name}،\n\nهذا رابطك الشخصي لمتابعة الفعالية:\n{url}\n",
    "en": "Hello {name},\n\nHere is your personal link to follow the event:\n{url}\n",
}


async def send_access_link(
    smtp: SmtpSettings, to: str, name: str, language: str, url: str
) -> bool:
    """Mail the link; False when SMTP is not configured or the server refused."""
    if not smtp.host:
        return False
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = to
    msg["Subject"] = SUBJECT.get(language, SUBJECT["en"])
    msg.set_content(BODY.get(language, BODY["en"]).format(name=name, url=url))
    try:
        await aiosmtplib.send(
            msg,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password else None,
            start_tls=smtp.starttls,
            timeout=15,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("mail_failed", error=str(exc))
        return False
    return True
