"""Deliver a report by e-mail through the SMTP server of `alerts.email` (plain text + HTML)."""
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from zabbix_sepa.reports import ReportError


def tls_context(alerts):
    context = ssl.create_default_context()
    if not alerts.smtp_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connect(alerts, timeout):
    """An SMTP session as alerts.email says: plain, STARTTLS or SMTPS, logged in when a user is set."""
    if alerts.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(alerts.smtp_server, alerts.smtp_port, local_hostname=alerts.smtp_helo,
                                timeout=timeout, context=tls_context(alerts))
    else:
        smtp = smtplib.SMTP(alerts.smtp_server, alerts.smtp_port, local_hostname=alerts.smtp_helo, timeout=timeout)
    try:
        if alerts.smtp_security == "starttls":
            smtp.starttls(context=tls_context(alerts))
        if alerts.smtp_user:
            smtp.login(alerts.smtp_user, alerts.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


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
        with connect(alerts, timeout) as smtp:
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise ReportError(f"the SMTP server {where} refused the login of alerts.email.user "
                          f"{alerts.smtp_user!r}: {exc.smtp_code} {exc.smtp_error.decode(errors='replace')}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise ReportError(f"the SMTP server {where} does not offer what alerts.email asks for: {exc}") from None
    except ssl.SSLError as exc:
        raise ReportError(f"TLS with the SMTP server {where} failed (alerts.email.security "
                          f"{alerts.smtp_security}, verify {str(alerts.smtp_verify).lower()}): {exc}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise ReportError(f"the SMTP server {where} refused every recipient "
                          f"({', '.join(sorted(exc.recipients))})") from None
    except smtplib.SMTPException as exc:
        raise ReportError(f"the SMTP server {where} did not take the report: {exc}") from None
    except (OSError, socket.timeout) as exc:
        raise ReportError(f"cannot reach the SMTP server {where} (alerts.email.smtp_server/smtp_port): "
                          f"{exc.strerror or exc}") from None
    return sorted(set(recipients) - set(refused))
