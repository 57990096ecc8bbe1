"""A WebSocket echo server (Python websockets, sync API) on a free port
(printed on the first line)."""
from websockets.sync.server import serve


def echo(ws):
    for msg in ws:
        ws.send(msg)


with serve(echo, "127.0.0.1", 0, compression=None) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
