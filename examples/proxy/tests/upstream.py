"""An origin server for the proxy tests (Python's http.server), on a free
port (printed on the first line):

GET /headers   the request's header lines as received, as the body; the
               response carries hop-by-hop fields the proxy must drop and
               fields in a given case and order
GET /close     an HTTP/1.0-style answer without Content-Length: the body
               ends when the connection closes
PUT /upload    reads the body (Content-Length or chunked), checks each
               byte against the pattern
               (PATTERN repeated), answers "<count> <ok>"
GET /download?n=N   N bytes of the pattern with Content-Length
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

BLOCK = bytes(range(256)) * 256  # 64 KiB
TWICE = BLOCK * 2


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/headers":
            body = "".join(f"{k}: {v}\n" for k, v in self.headers.raw_items()).encode()
            self.send_response(200)
            self.send_header("X-Up-B", "1")
            self.send_header("x-up-a", "2")
            self.send_header("Connection", "keep-alive, X-Hop")
            self.send_header("X-Hop", "dropped")
            self.send_header("Keep-Alive", "timeout=5")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif u.path == "/close":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"until close " * 1000)
            self.close_connection = True
        elif u.path == "/download":
            n = int(parse_qs(u.query)["n"][0])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0:
                k = min(n, len(BLOCK))
                self.wfile.write(BLOCK[:k])
                n -= k
        else:
            self.send_error(404)

    def body_pieces(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return
                left = size
                while left > 0:
                    c = self.rfile.read1(min(65536, left))
                    if not c:
                        return
                    left -= len(c)
                    yield c
                self.rfile.readline()
        n = int(self.headers["Content-Length"])
        got = 0
        while got < n:
            c = self.rfile.read1(min(65536, n - got))
            if not c:
                return
            got += len(c)
            yield c

    def do_PUT(self):
        got, ok = 0, True
        for c in self.body_pieces():
            o = got % 65536
            if c != TWICE[o:o + len(c)]:
                ok = False
            got += len(c)
        body = f"{got} {ok}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
