"""A Zabbix trapper on 127.0.0.1 for tests of the CLI's protocol side: it reads sender
requests on any number of connections, records their values and acknowledges them as
a Zabbix server does (every value processed), or with a scripted `info` text."""
import json
import struct

from tests.tcp import LocalServer, read_exactly, zabbix_frame


class FakeZabbix(LocalServer):
    def __init__(self, info=None):
        self.info = info        # None: "processed: N; failed: 0; total: N" for a request of N values
        self.values = []
        super().__init__()

    def handle(self, conn):
        with conn:
            try:
                header = read_exactly(conn, 13)
                data = json.loads(read_exactly(conn, struct.unpack("<I", header[5:9])[0]))["data"]
            except (OSError, ValueError, KeyError, struct.error):
                return
            self.values += data
            n = len(data)
            info = self.info or f"processed: {n}; failed: 0; total: {n}; seconds spent: 0.000100"
            conn.sendall(zabbix_frame({"response": "success", "info": info}))
