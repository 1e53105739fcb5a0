"""Real TCP peers on 127.0.0.1 for the tests (a Zabbix trapper, a hung database, a slow
server): a listening socket whose connections are handed, each in its own thread, to
`handle(conn)`. Subclasses set their own attributes before calling __init__. Also the
small pieces such peers share: a free port, reading exactly n bytes, the Zabbix frame."""
import json
import socket
import struct
import threading


def unused_port():
    """A port on 127.0.0.1 that nothing listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_exactly(conn, n):
    """n bytes from `conn`; OSError when the peer closes first."""
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def zabbix_frame(body):
    """`body` (bytes, or JSON-able) in the Zabbix protocol's framing: ZBXD, flags 1, length."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return b"ZBXD\x01" + struct.pack("<II", len(data), 0) + data


class LocalServer:
    def __init__(self, backlog=16):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.held = []          # connections a subclass keeps open on purpose
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return          # closed
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        raise NotImplementedError

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()
