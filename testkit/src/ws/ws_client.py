# Python `websockets` client scenarios against a wireloom WebSocket server
# (run by wireloom_testkit::ws::python_client).
#
#   python3 ws_client.py API SCENARIO URL COMPRESSION [CAFILE]
#
# API: "sync" or "asyncio"; COMPRESSION: "deflate" (permessage-deflate
# offered, the websockets default; the server must accept it) or "none"
# (not offered; the server must not answer with it). CAFILE: the CA to
# trust for wss:// URLs. Prints "ok" when the scenario passed; anything else
# (an assertion, a traceback) is the verdict of a failure.
#
# Scenarios (URL is the route they need):
#   echo          /ws/echo: text (ASCII, non-ASCII, empty), binary (small,
#                 empty, 4 MiB), fragmented text and binary messages (sent
#                 as 5 and 64 fragments), 100 messages in a row, ping/pong
#                 with payload, a normal close (1000) answered with 1000.
#   close-code    /ws/echo: the client closes with 4001 "bye"; the server
#                 echoes 4001.
#   too-big       /ws/echo: a 17 MiB message; the server closes with 1009.
#   chat:N        /ws/chat: N clients (asyncio: concurrently; sync: in
#                 threads) each send "hello from client-I"; each must
#                 receive all N greetings.
#   greeter:FILE  /ws/chat (sync API whatever API says): connects, creates
#                 FILE, waits (20 s at most) for a message "hello from NAME",
#                 answers "welcome NAME" and waits for that to come back
#                 through the hub too.
#   slow-member   /ws/chat (asyncio API whatever API says): a raw client
#                 joins and never reads; then client A sends 200 messages of
#                 64 KiB (12.8 MB, more than the loopback socket buffers
#                 hold), each once B and A got the previous one: all must
#                 arrive, in order; the stalled member holds nobody back.
#   raw-unmasked  any WebSocket route, over a raw socket: an unmasked
#                 client frame; the server must close with 1002.
#   raw-bad-utf8  the same with a masked text frame holding invalid UTF-8
#                 split over two fragments; the server closes with 1007.
import asyncio
import base64
import os
import socket
import ssl
import struct
import sys
import threading
import urllib.parse

api, scenario, url, compression = sys.argv[1:5]
cafile = sys.argv[5] if len(sys.argv) > 5 else None
comp = None if compression == "none" else "deflate"
LIMIT = 32 * 1024 * 1024
TIMEOUT = 20


def tls_context():
    if not url.startswith("wss:"):
        return None
    return ssl.create_default_context(cafile=cafile)


def big(n):
    return bytes(i % 251 for i in range(n))


def check_extension(ws):
    ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
    if comp:
        assert "permessage-deflate" in ext, "deflate offered, server answered %r" % ext
    else:
        assert ext == "", "nothing offered, server answered %r" % ext


TEXTS = ["hello", "h\u00e9llo w\u00f6rld \U0001F600", ""]
BINS = [b"\x00\x01\x02\xff", b""]


def raw(frames):
    """Opens a raw connection, sends `frames`, returns the close code."""
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (u.path or "/", u.netloc, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, "closed during the handshake"
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    for f in frames:
        s.sendall(f)
    while True:
        while len(buf) < 2:
            chunk = s.recv(4096)
            assert chunk, "closed without a close frame"
            buf += chunk
        n = buf[1] & 0x7F
        assert n < 126
        while len(buf) < 2 + n:
            chunk = s.recv(4096)
            assert chunk, "closed inside a frame"
            buf += chunk
        op, payload, buf = buf[0] & 0x0F, buf[2:2 + n], buf[2 + n:]
        if op == 8:
            s.close()
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def masked(first, payload):
    key = os.urandom(4)
    assert len(payload) < 126
    return bytes([first, 0x80 | len(payload)]) + key + bytes(
        b ^ key[i % 4] for i, b in enumerate(payload))


if scenario == "raw-unmasked":
    code = raw([bytes([0x82, 3]) + b"abc"])
    assert code == 1002, "close code %r" % code
    print("ok")
    sys.exit(0)
if scenario == "raw-bad-utf8":
    # "\xce" then "\xff": invalid at the first byte of the second fragment.
    code = raw([masked(0x01, b"ok \xce"), masked(0x80, b"\xff rest")])
    assert code == 1007, "close code %r" % code
    print("ok")
    sys.exit(0)

if scenario == "slow-member":
    from websockets.asyncio.client import connect as aconnect

    u = urllib.parse.urlsplit(url)
    stalled = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
    stalled.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n"
                     % (u.path, u.netloc, base64.b64encode(os.urandom(16)).decode())).encode())
    assert stalled.recv(4096).startswith(b"HTTP/1.1 101")
    N = 200

    async def slow_member():
        async with aconnect(url, compression=comp, max_size=LIMIT) as a, \
                aconnect(url, compression=comp, max_size=LIMIT) as b:
            # Lockstep: A sends the next message once B and A itself got
            # the last one through the hub; the stalled member falls
            # behind (its socket buffers fill, then its queue drops the
            # oldest) and must not slow A or B down.
            for i in range(N):
                m = "%05d" % i + "x" * (64 * 1024 - 5)
                await a.send(m)
                got = await asyncio.wait_for(b.recv(), TIMEOUT)
                assert got[:5] == "%05d" % i, (i, got[:5])
                got = await asyncio.wait_for(a.recv(), TIMEOUT)
                assert got[:5] == "%05d" % i, (i, got[:5])

    asyncio.run(slow_member())
    stalled.close()
    print("ok")
    sys.exit(0)

if scenario.startswith("greeter:"):
    from websockets.sync.client import connect

    with connect(url, compression=comp, open_timeout=TIMEOUT) as ws:
        open(scenario.split(":", 1)[1], "w").close()
        while True:
            m = ws.recv(TIMEOUT)
            if isinstance(m, str) and m.startswith("hello from "):
                break
        welcome = "welcome " + m[len("hello from "):]
        ws.send(welcome)
        while ws.recv(TIMEOUT) != welcome:
            pass
    print("ok")
    sys.exit(0)

if api == "sync":
    from websockets.sync.client import connect
    from websockets.exceptions import ConnectionClosed

    def open_ws():
        return connect(url, compression=comp, max_size=LIMIT, ssl=tls_context(),
                       open_timeout=TIMEOUT, close_timeout=TIMEOUT)

    def echo():
        with open_ws() as ws:
            check_extension(ws)
            for m in TEXTS + BINS + [big(4 * 1024 * 1024)]:
                ws.send(m)
                got = ws.recv(TIMEOUT)
                assert got == m, "echo of %d %s" % (len(m), type(m).__name__)
            ws.send(["fr", "ag", "men", "ted \u00e9", "!"])
            assert ws.recv(TIMEOUT) == "fragmented \u00e9!"
            parts = [bytes([i]) * 1000 for i in range(64)]
            ws.send(parts)
            assert ws.recv(TIMEOUT) == b"".join(parts)
            for i in range(100):
                ws.send("message %d" % i)
            for i in range(100):
                assert ws.recv(TIMEOUT) == "message %d" % i
            assert ws.ping(b"are you there").wait(TIMEOUT), "no pong"
            ws.close()
            assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000, ws.protocol.close_rcvd

    def close_code():
        ws = open_ws()
        ws.close(4001, "bye")
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4001, ws.protocol.close_rcvd

    def too_big():
        ws = open_ws()
        try:
            ws.send(big(17 * 1024 * 1024))
            ws.recv(TIMEOUT)
            raise AssertionError("no close")
        except ConnectionClosed:
            pass
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1009, ws.protocol.close_rcvd

    def chat(n):
        conns = [open_ws() for _ in range(n)]
        errors = []

        def run(i, ws):
            try:
                want = {"hello from client-%d" % k for k in range(n)}
                got = set()
                while got != want:
                    got.add(ws.recv(TIMEOUT))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("client %d: %r (got %r)" % (i, e, got))

        threads = [threading.Thread(target=run, args=(i, ws)) for i, ws in enumerate(conns)]
        for t in threads:
            t.start()
        for i, ws in enumerate(conns):
            ws.send("hello from client-%d" % i)
        for t in threads:
            t.join(TIMEOUT * 2)
        for ws in conns:
            ws.close()
        assert not errors, errors

    if scenario == "echo":
        echo()
    elif scenario == "close-code":
        close_code()
    elif scenario == "too-big":
        too_big()
    elif scenario.startswith("chat:"):
        chat(int(scenario.split(":")[1]))
    else:
        raise SystemExit("unknown scenario " + scenario)
    print("ok")
else:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    def open_ws():
        return connect(url, compression=comp, max_size=LIMIT, ssl=tls_context(),
                       open_timeout=TIMEOUT, close_timeout=TIMEOUT)

    async def recv(ws):
        return await asyncio.wait_for(ws.recv(), TIMEOUT)

    async def echo():
        async with open_ws() as ws:
            check_extension(ws)
            for m in TEXTS + BINS + [big(4 * 1024 * 1024)]:
                await ws.send(m)
                got = await recv(ws)
                assert got == m, "echo of %d %s" % (len(m), type(m).__name__)
            await ws.send(["fr", "ag", "men", "ted \u00e9", "!"])
            assert await recv(ws) == "fragmented \u00e9!"
            parts = [bytes([i]) * 1000 for i in range(64)]
            await ws.send(parts)
            assert await recv(ws) == b"".join(parts)
            for i in range(100):
                await ws.send("message %d" % i)
            for i in range(100):
                assert await recv(ws) == "message %d" % i
            await asyncio.wait_for(await ws.ping(b"are you there"), TIMEOUT)
            await ws.close()
            assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000, ws.protocol.close_rcvd

    async def close_code():
        ws = await open_ws()
        await ws.close(4001, "bye")
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4001, ws.protocol.close_rcvd

    async def too_big():
        ws = await open_ws()
        try:
            await ws.send(big(17 * 1024 * 1024))
            await recv(ws)
            raise AssertionError("no close")
        except ConnectionClosed:
            pass
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1009, ws.protocol.close_rcvd

    async def chat(n):
        conns = [await open_ws() for _ in range(n)]

        async def run(ws):
            want = {"hello from client-%d" % k for k in range(n)}
            got = set()
            while got != want:
                got.add(await recv(ws))

        tasks = [asyncio.create_task(run(ws)) for ws in conns]
        for i, ws in enumerate(conns):
            await ws.send("hello from client-%d" % i)
        await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT * 2)
        for ws in conns:
            await ws.close()

    async def main():
        if scenario == "echo":
            await echo()
        elif scenario == "close-code":
            await close_code()
        elif scenario == "too-big":
            await too_big()
        elif scenario.startswith("chat:"):
            await chat(int(scenario.split(":")[1]))
        else:
            raise SystemExit("unknown scenario " + scenario)

    asyncio.run(main())
    print("ok")
