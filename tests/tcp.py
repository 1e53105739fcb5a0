"""Real TCP peers on 127.0.0.1 for the tests (a Zabbix trapper, a hung database, a slow
server): a listening socket whose connections are handed, each in its own thread, to
`handle(conn)`. Subclasses set their own attributes before calling __init__."""
import socket
import threading


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
