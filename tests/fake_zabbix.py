"""A Zabbix trapper on 127.0.0.1 for tests of the CLI's protocol side: it reads sender
requests on any number of connections, records their values and acknowledges them as
a Zabbix server does (every value processed), or with a scripted `info` text."""
import json
import struct

from tests.tcp import LocalServer


class FakeZabbix(LocalServer):
    def __init__(self, info=None):
        self.info = info        # None: "processed: N; failed: 0; total: N" for a request of N values
        self.values = []
        super().__init__()

    def handle(self, conn):
        with conn:
            try:
                header = self._exactly(conn, 13)
                data = json.loads(self._exactly(conn, struct.unpack("<I", header[5:9])[0]))["data"]
            except (OSError, ValueError, KeyError, struct.error):
                return
            self.values += data
            n = len(data)
            info = self.info or f"processed: {n}; failed: 0; total: {n}; seconds spent: 0.000100"
            body = json.dumps({"response": "success", "info": info}).encode()
            conn.sendall(b"ZBXD\x01" + struct.pack("<II", len(body), 0) + body)

    @staticmethod
    def _exactly(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data
