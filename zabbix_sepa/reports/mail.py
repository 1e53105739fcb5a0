"""Deliver a report by e-mail through the SMTP server of `alerts.email` (plain text + HTML)."""
import smtplib
import socket
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from zabbix_sepa.reports import ReportError


def send(alerts, recipients, subject, text, html=None, timeout=30):
    """Hand the message to the SMTP server; ReportError says why it did not take it."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = alerts.smtp_email
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=alerts.smtp_helo)
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    where = f"{alerts.smtp_server}:{alerts.smtp_port}"
    try:
        with smtplib.SMTP(alerts.smtp_server, alerts.smtp_port, local_hostname=alerts.smtp_helo,
                          timeout=timeout) as smtp:
            refused = smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise ReportError(f"the SMTP server {where} refused every recipient "
                          f"({', '.join(sorted(exc.recipients))})") from None
    except smtplib.SMTPException as exc:
        raise ReportError(f"the SMTP server {where} did not take the report: {exc}") from None
    except (OSError, socket.timeout) as exc:
        raise ReportError(f"cannot reach the SMTP server {where} (alerts.email.smtp_server/smtp_port): "
                          f"{exc.strerror or exc}") from None
    return sorted(set(recipients) - set(refused))
