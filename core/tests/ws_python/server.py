"""Python websockets (asyncio API) as a server for the core WebSocket client
in ws_python.rs. argv: "deflate", "params" (every
permessage-deflate parameter, small windows) or "none". Prints its port, then serves
one connection: echoes, and obeys a few commands. Exits after it."""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

mode = sys.argv[1]
if mode == "none":
    kw = {"compression": None}
elif mode == "deflate":
    kw = {"compression": "deflate"}
else:  # "params": no context takeover both ways, small windows
    kw = {"compression": None, "extensions": [ServerPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True,
        server_max_window_bits=9, client_max_window_bits=10)]}
done = asyncio.Event()


async def handler(ws):
    try:
        async for msg in ws:
            if msg == "close":
                await ws.close(4002, "server bye")
                return
            if msg == "ping me":
                waiter = await ws.ping(b"srv")
                await asyncio.wait_for(waiter, 10)
                await ws.send("pinged")
            elif msg == "fragments":
                await ws.send(["frag", "mented ", "τext"])
            elif msg == "extensions":
                await ws.send(",".join(e.name for e in ws.protocol.extensions))
            else:
                await ws.send(msg)
    finally:
        done.set()


async def main():
    async with serve(handler, "127.0.0.1", 0, max_size=None, **kw) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.wait_for(done.wait(), 60)


asyncio.run(main())
