"""A keep-alive HTTP/1.1 client of the service."""

import http.client
import json


class Api:
    """A keep-alive HTTP/1.1 client of the service, with the caller's token."""

    def __init__(self, port, token):
        self.port, self.token, self.conn = port, token, None

    def request(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                res = self.conn.getresponse()
                raw = res.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A keep-alive connection the server closed meanwhile: once more on a new one.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            return res.status, (json.loads(raw) if raw else None)

    def ok(self, method, path, body=None, expect=(200, 201)):
        status, answer = self.request(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer["data"]
