"""Python websockets (sync API) as a client of the core WebSocket server in
ws_python.rs. argv: url, and "deflate", "params" (every permessage-deflate
parameter offered) or "none". Prints one JSON object."""
import json
import sys

from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

url, mode = sys.argv[1], sys.argv[2]
if mode == "none":
    kw = {"compression": None}
elif mode == "deflate":
    kw = {"compression": "deflate"}
else:  # "params": every parameter, small windows, no context takeover
    kw = {"compression": None, "extensions": [ClientPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True,
        server_max_window_bits=10, client_max_window_bits=9)]}
res = {}
with connect(url, max_size=None, open_timeout=10, close_timeout=10, **kw) as ws:
    res["extensions"] = [e.name for e in ws.protocol.extensions]
    res["params"] = [[e.remote_no_context_takeover, e.local_no_context_takeover,
                      e.remote_max_window_bits, e.local_max_window_bits]
                     for e in ws.protocol.extensions]
    res["subprotocol"] = ws.subprotocol
    ws.send("hello κόσμε €𐍈")
    res["text"] = ws.recv(timeout=10) == "hello κόσμε €𐍈"
    big = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4
    ws.send(big)
    res["big"] = ws.recv(timeout=10) == big
    compressible = b"abcdefgh" * 100000
    ws.send(compressible)
    res["compressible"] = ws.recv(timeout=10) == compressible
    ws.send(["frag", "mented ", "τext"])  # one message in three frames
    res["fragmented_text"] = ws.recv(timeout=10) == "fragmented τext"
    ws.send([b"a" * 70000, b"", b"b" * 10])
    res["fragmented_binary"] = ws.recv(timeout=10) == b"a" * 70000 + b"b" * 10
    ws.send("")
    res["empty"] = ws.recv(timeout=10) == ""
    res["pong"] = ws.ping(b"py-ping").wait(10)
    ws.send("ping me")  # the server pings, websockets answers, the server reports
    res["server_ping"] = ws.recv(timeout=10)
    ws.send("close me")
    try:
        ws.recv(timeout=10)
        res["close"] = "no close"
    except ConnectionClosed as e:
        res["close"] = [e.rcvd.code, e.rcvd.reason] if e.rcvd else None
print(json.dumps(res), flush=True)
