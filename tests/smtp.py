"""A local SMTP server for the tests: speaks the RFC 5321 verbs smtplib and Zabbix (libcurl)
use and keeps what it receives, so a test sees the real message a command or Zabbix sent.

`SMTPSink()` takes anything in clear. `SMTPSink(tls="starttls" | "ssl", login=(user, password))`
stands in for a relay that requires encryption and a login: with "starttls" it refuses AUTH and
MAIL before STARTTLS; with a login it refuses MAIL before a successful AUTH (PLAIN or LOGIN).
Its certificate is self-signed, made for the session by `openssl`."""
import base64
import os
import socketserver
import ssl
import subprocess
import tempfile
import threading


def self_signed_context(directory):
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class SMTPSink(socketserver.ThreadingTCPServer):
    """A local SMTP server that keeps what it receives (see the module's docstring)."""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, tls=None, login=None):
        assert tls in (None, "starttls", "ssl")
        self.messages = []
        self.refused = []            # (verb, reply) of every command the sink refused
        self.tls, self.login = tls, login
        self._tmp = tempfile.TemporaryDirectory(prefix="zsepa-smtp-")
        self.context = self_signed_context(self._tmp.name) if tls else None
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self):
                if sink.tls == "ssl":
                    self.request = sink.context.wrap_socket(self.request, server_side=True)
                super().setup()
                self.encrypted = sink.tls == "ssl"
                self.user = None

            def say(self, line):
                self.wfile.write(line.encode() + b"\r\n")

            def refuse(self, verb, line):
                sink.refused.append((verb, line))
                self.say(line)

            def start_tls(self):
                self.say("220 go ahead")
                self.request = sink.context.wrap_socket(self.request, server_side=True)
                self.rfile = self.request.makefile("rb")
                self.wfile = self.request.makefile("wb", buffering=0)
                self.encrypted = True

            def authenticate(self, args):
                mechanism, _, initial = args.partition(" ")
                if mechanism.upper() == "PLAIN":
                    if not initial:
                        self.say("334 ")
                        initial = self.rfile.readline().decode().strip()
                    _, user, password = base64.b64decode(initial).decode().split("\0")
                elif mechanism.upper() == "LOGIN":
                    self.say("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.rfile.readline().strip()).decode()
                    self.say("334 UGFzc3dvcmQ6")
                    password = base64.b64decode(self.rfile.readline().strip()).decode()
                else:
                    return self.refuse("AUTH", "504 5.5.4 unrecognized authentication type")
                if (user, password) != sink.login:
                    return self.refuse("AUTH", "535 5.7.8 authentication credentials invalid")
                self.user = user
                self.say("235 2.7.0 authentication successful")

            def ehlo(self):
                offers = []
                if sink.tls == "starttls" and not self.encrypted:
                    offers.append("STARTTLS")
                if sink.login and (self.encrypted or not sink.tls):
                    offers.append("AUTH PLAIN LOGIN")
                lines = ["sink", *offers]
                for line in lines[:-1]:
                    self.say("250-" + line)
                self.say("250 " + lines[-1])

            def handle(self):
                self.say("220 sink ESMTP")
                mail = {"from": None, "to": [], "data": b""}
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    text = line.decode().strip()
                    verb, _, args = text.partition(" ")
                    verb = verb.upper()
                    if verb in ("EHLO", "HELO"):
                        mail["helo"] = args
                        self.ehlo()
                    elif verb == "STARTTLS" and sink.tls == "starttls" and not self.encrypted:
                        self.start_tls()
                    elif verb == "AUTH":
                        if sink.tls and not self.encrypted:
                            self.refuse(verb, "530 5.7.0 must issue a STARTTLS command first")
                        else:
                            self.authenticate(args)
                    elif verb == "MAIL":
                        if sink.tls and not self.encrypted:
                            self.refuse(verb, "530 5.7.0 must issue a STARTTLS command first")
                        elif sink.login and not self.user:
                            self.refuse(verb, "530 5.7.0 authentication required")
                        else:
                            mail.update({"from": text, "to": [], "tls": self.encrypted, "user": self.user})
                            self.say("250 ok")
                    elif verb == "RCPT":
                        mail["to"].append(text)
                        self.say("250 ok")
                    elif verb == "DATA":
                        self.say("354 go on")
                        data = []
                        for chunk in iter(self.rfile.readline, b""):
                            if chunk == b".\r\n":
                                break
                            data.append(chunk)
                        mail["data"] = b"".join(data)
                        sink.messages.append(dict(mail))
                        self.say("250 queued")
                    elif verb == "QUIT":
                        self.say("221 bye")
                        return
                    else:
                        self.say("250 ok")

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()
        self._tmp.cleanup()
