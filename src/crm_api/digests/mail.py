"""The digest email (multipart text + HTML) and sending it over SMTP."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from typing import Any

from crm_api.config import Settings
from crm_api.digests.service import Due

LABELS = {
    "new_leads": "New leads", "new_deals": "New deals", "deals_won": "Deals won", "deals_lost": "Deals lost",
    "win_rate": "Win rate", "new_revenue": "Won revenue", "open_deals": "Open deals",
    "open_pipeline_value": "Open pipeline", "calls_logged": "Calls", "meetings_logged": "Meetings",
}


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(f"{m.amount} {m.currency}" for m in value) or "0"
    return str(value)


def build(digest: Due, contents: dict[str, Any], sender: str) -> EmailMessage:
    """The message: a plain-text part and an HTML alternative saying the same."""
    title = "Daily" if digest.frequency == "daily" else "Weekly"
    period = (digest.period_start.isoformat() if digest.period_start == digest.period_end
              else f"{digest.period_start.isoformat()} to {digest.period_end.isoformat()}")
    lines = [f"{title} digest for {digest.name}, {period} ({digest.time_zone})", ""]
    html = [f"<h1>{escape(title)} digest</h1><p>{escape(digest.name)}, {escape(period)} "
            f"({escape(digest.time_zone)})</p>"]
    if "numbers" in contents:
        numbers = contents["numbers"]
        lines.append("Your numbers")
        html.append("<h2>Your numbers</h2><table>")
        for name, label in LABELS.items():
            shown = _value(getattr(numbers, name))
            lines.append(f"  {label}: {shown}")
            html.append(f"<tr><th align='left'>{escape(label)}</th><td>{escape(shown)}</td></tr>")
        html.append("</table>")
        lines.append("")
    for key, heading, when in (("follow_ups", "Overdue follow-ups", "due_at"), ("stale_deals", "Stale deals",
                                                                               "stale_at")):
        if key not in contents:
            continue
        rows = contents[key]
        lines.append(f"{heading} ({len(rows)})")
        html.append(f"<h2>{escape(heading)} ({len(rows)})</h2><ul>")
        for row in rows:
            name = row.subject if key == "follow_ups" else row.title
            stamp = getattr(row, when).strftime("%Y-%m-%d %H:%M UTC")
            lines.append(f"  - {name} ({stamp})")
            html.append(f"<li>{escape(name)} ({escape(stamp)})</li>")
        html.append("</ul>")
        lines.append("")
    message = EmailMessage()
    message["Subject"] = f"{title} digest: {period}"
    message["From"] = sender
    message["To"] = digest.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(f"digest.{digest.frequency}.{digest.period_start}.{digest.user_id}")
    message.set_content("\n".join(lines))
    message.add_alternative("<html><body>" + "".join(html) + "</body></html>", subtype="html")
    return message


def _send(settings: Settings, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    smtp_class = smtplib.SMTP_SSL if settings.smtp_tls == "ssl" else smtplib.SMTP
    kwargs: dict[str, Any] = {"context": context} if settings.smtp_tls == "ssl" else {}
    with smtp_class(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds, **kwargs) as smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)


async def send(settings: Settings, message: EmailMessage) -> None:
    """Send one message (smtplib in a thread: the event loop keeps serving)."""
    await asyncio.to_thread(_send, settings, message)
