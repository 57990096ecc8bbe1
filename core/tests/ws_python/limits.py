"""Python websockets (sync client) sends one message over the core server's
limit (argv: url, "deflate" or "none", size); prints the close code and
reason the server answered with, as JSON."""
import json
import sys

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

url, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
with connect(url, compression=None if mode == "none" else "deflate",
             max_size=None, open_timeout=10, close_timeout=10) as ws:
    ws.send(b"\0" * size)  # highly compressible: a decompression bomb when deflated
    try:
        ws.recv(timeout=10)
        print(json.dumps("no close"))
    except ConnectionClosed as e:
        print(json.dumps([e.rcvd.code, e.rcvd.reason] if e.rcvd else None))
