"""Differential peer: parses the corpus cases with h11 and prints, per case,
the messages h11 saw and how the input ended, in the same normalised form the
Rust side builds from wireloom's transcript.

stdin: JSON list of {"name", "role", "method", "data"(base64)}
stdout: JSON list of {"name", "messages": [...], "terminal": ok|error|incomplete|upgrade}
"""
import base64
import json
import sys

import h11


def latin1(b):
    return b.decode("latin-1")


def headers(h):
    return [[latin1(n), latin1(v)] for n, v in h.raw_items()]


def run_server(data):
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    conn.receive_data(b"")
    msgs, cur = [], None
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError as e:
            return msgs, ("incomplete" if "closed" in str(e) else "error")
        if ev is h11.NEED_DATA:
            return msgs, "ok"
        if ev is h11.PAUSED:
            return msgs, ("upgrade" if conn.their_state is h11.SWITCHED_PROTOCOL else "ok")
        if isinstance(ev, h11.ConnectionClosed):
            return msgs, "ok"
        if isinstance(ev, h11.Request):
            cur = {"method": latin1(ev.method), "target": latin1(ev.target),
                   "version": "HTTP/" + latin1(ev.http_version), "headers": headers(ev.headers), "body": b""}
        elif isinstance(ev, h11.Data):
            cur["body"] += ev.data
        elif isinstance(ev, h11.EndOfMessage):
            cur["trailers"] = headers(ev.headers)
            cur["body"] = base64.b64encode(cur["body"]).decode()
            msgs.append(cur)
            is_connect = cur["method"] == "CONNECT"
            try:
                conn.send(h11.Response(status_code=200, headers=[] if is_connect else [("Content-Length", "0")]))
                if conn.our_state is h11.SWITCHED_PROTOCOL:
                    return msgs, "upgrade"
                conn.send(h11.EndOfMessage())
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return msgs, "ok"


def run_client(data, method):
    conn = h11.Connection(h11.CLIENT)
    target = {"CONNECT": "example.com:443", "OPTIONS": "*"}.get(method, "/")

    def send():
        conn.send(h11.Request(method=method, target=target, headers=[("Host", "example.com")]))
        conn.send(h11.EndOfMessage())

    send()
    conn.receive_data(data)
    conn.receive_data(b"")
    msgs, cur = [], None
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError as e:
            return msgs, ("incomplete" if "closed" in str(e) else "error")
        if ev is h11.NEED_DATA:
            return msgs, "ok"
        if ev is h11.PAUSED:
            return msgs, ("upgrade" if conn.their_state is h11.SWITCHED_PROTOCOL else "ok")
        if isinstance(ev, h11.ConnectionClosed):
            return msgs, "ok"
        if isinstance(ev, h11.InformationalResponse):
            if ev.status_code == 101:
                msgs.append({"status": 101, "reason": latin1(ev.reason), "version": "HTTP/" + latin1(ev.http_version),
                             "headers": headers(ev.headers), "body": "", "trailers": []})
                return msgs, "upgrade"
            msgs.append({"informational": ev.status_code, "headers": headers(ev.headers)})
        elif isinstance(ev, h11.Response):
            cur = {"status": ev.status_code, "reason": latin1(ev.reason),
                   "version": "HTTP/" + latin1(ev.http_version), "headers": headers(ev.headers), "body": b""}
            if conn.their_state is h11.SWITCHED_PROTOCOL:
                cur["body"], cur["trailers"] = "", []
                msgs.append(cur)
                return msgs, "upgrade"
        elif isinstance(ev, h11.Data):
            cur["body"] += ev.data
        elif isinstance(ev, h11.EndOfMessage):
            cur["trailers"] = headers(ev.headers)
            cur["body"] = base64.b64encode(cur["body"]).decode()
            msgs.append(cur)
            rest, closed = conn.trailing_data
            if not rest:
                return msgs, "ok"
            try:
                conn.start_next_cycle()
                send()
            except h11.LocalProtocolError:
                return msgs, "ok"


def main():
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        data = base64.b64decode(c["data"])
        if c["role"] == "server":
            msgs, term = run_server(data)
        else:
            msgs, term = run_client(data, c.get("method") or "GET")
        out.append({"name": c["name"], "messages": msgs, "terminal": term})
    json.dump(out, sys.stdout)


main()
