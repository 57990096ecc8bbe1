# A Python `websockets` echo server for the wireloom WebSocket clients'
# tests (started by wireloom_testkit::ws::PyWsServer).
#
#   python3 ws_server.py API COMPRESSION [CERT KEY]
#
# API: "sync" (websockets.sync.server) or "asyncio" (websockets.asyncio.server);
# COMPRESSION: "deflate" (permessage-deflate offered/accepted, the default of
# websockets) or "none". With CERT and KEY it serves TLS (wss).
# Prints {"port": N} once listening; stops when stdin closes.
#
# Every text and binary message is echoed unchanged, except these text
# commands:
#   "close CODE REASON"  the server closes with CODE and REASON
#   "extensions?"        answers with the Sec-WebSocket-Extensions it sent
#                        (empty if none)
#   "ping-me"            the server pings with b"wl", waits (10 s at most)
#                        for the pong and answers "pong received"
#   "send-fragmented N"  answers with a text message of N fragments
#                        "part0".."partN-1" (one message when reassembled)
#   "send-big N"         answers with a binary message of N bytes
#                        (byte i = i % 251)
import asyncio
import json
import ssl
import sys
import threading

api, compression = sys.argv[1], sys.argv[2]
tls = None
if len(sys.argv) > 4:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[3], sys.argv[4])
comp = None if compression == "none" else "deflate"
LIMIT = 64 * 1024 * 1024


def big(n):
    return bytes(i % 251 for i in range(n))


def response_ext(ws):
    return ws.response.headers.get("Sec-WebSocket-Extensions", "") if ws.response else ""


def command(msg):
    """(kind, arg) for a command message, None for a message to echo."""
    if not isinstance(msg, str):
        return None
    if msg.startswith("close "):
        _, code, reason = (msg.split(" ", 2) + [""])[:3]
        return ("close", (int(code), reason))
    if msg == "extensions?":
        return ("ext", None)
    if msg == "ping-me":
        return ("ping", None)
    if msg.startswith("send-fragmented "):
        return ("frag", int(msg.split()[1]))
    if msg.startswith("send-big "):
        return ("big", int(msg.split()[1]))
    return None


def watch_stdin(stop):
    sys.stdin.read()
    stop()


if api == "sync":
    from websockets.sync.server import serve

    def handler(ws):
        for msg in ws:
            c = command(msg)
            if c is None:
                ws.send(msg)
            elif c[0] == "close":
                ws.close(*c[1])
                return
            elif c[0] == "ext":
                ws.send(response_ext(ws))
            elif c[0] == "ping":
                ws.ping(b"wl").wait(10)
                ws.send("pong received")
            elif c[0] == "frag":
                ws.send(["part%d" % i for i in range(c[1])])
            elif c[0] == "big":
                ws.send(big(c[1]))

    with serve(handler, "127.0.0.1", 0, compression=comp, max_size=LIMIT, ssl=tls) as server:
        print(json.dumps({"port": server.socket.getsockname()[1]}), flush=True)
        threading.Thread(target=watch_stdin, args=(server.shutdown,), daemon=True).start()
        server.serve_forever()
else:
    from websockets.asyncio.server import serve

    async def handler(ws):
        async for msg in ws:
            c = command(msg)
            if c is None:
                await ws.send(msg)
            elif c[0] == "close":
                await ws.close(*c[1])
                return
            elif c[0] == "ext":
                await ws.send(response_ext(ws))
            elif c[0] == "ping":
                await asyncio.wait_for(await ws.ping(b"wl"), 10)
                await ws.send("pong received")
            elif c[0] == "frag":
                await ws.send(["part%d" % i for i in range(c[1])])
            elif c[0] == "big":
                await ws.send(big(c[1]))

    async def main():
        async with serve(handler, "127.0.0.1", 0, compression=comp, max_size=LIMIT, ssl=tls) as server:
            port = list(server.sockets)[0].getsockname()[1]
            print(json.dumps({"port": port}), flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.read)

    asyncio.run(main())
