"""A local SMTP server for the tests: speaks the RFC 5321 verbs smtplib uses and keeps what
it receives, so a test sees the real message a command or Zabbix sent."""
import socketserver
import threading


class SMTPSink(socketserver.ThreadingTCPServer):
    """A local SMTP server (the RFC 5321 verbs smtplib uses) that keeps what it receives."""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        self.messages = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                def say(line):
                    self.wfile.write(line.encode() + b"\r\n")
                say("220 sink ESMTP")
                mail = {"from": None, "to": [], "data": b""}
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line.decode().strip().split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        mail["helo"] = line.decode().strip().split(" ", 1)[1]
                        say("250 sink")
                    elif verb == "MAIL":
                        mail["from"] = line.decode().strip()
                        say("250 ok")
                    elif verb == "RCPT":
                        mail["to"].append(line.decode().strip())
                        say("250 ok")
                    elif verb == "DATA":
                        say("354 go on")
                        data = []
                        for chunk in iter(self.rfile.readline, b""):
                            if chunk == b".\r\n":
                                break
                            data.append(chunk)
                        mail["data"] = b"".join(data)
                        sink.messages.append(dict(mail))
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 ok")

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()
