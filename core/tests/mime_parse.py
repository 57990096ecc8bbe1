"""Parses rendered messages (one on stdin, or files given as arguments) with Python's `email`
package (policy=default, the strict modern parser) and prints what it found
as JSON: decoded headers, addresses and groups, the content-type tree with
filenames, content IDs and the decoded bytes of every leaf (base64), and
every defect the parser noticed.

Used by core/tests/mime_python.rs and conformance/tests/mail_render.rs.
"""
import base64
import email
import email.policy
import json
from email import _header_value_parser as hvp
import sys


def addresses(header):
    if header is None:
        return None
    return [
        {
            "group": g.display_name,
            "members": [
                {"name": a.display_name, "addr": a.addr_spec, "local": a.username, "domain": a.domain}
                for a in g.addresses
            ],
        }
        for g in header.groups
    ]


def tree(part):
    node = {
        "type": part.get_content_type(),
        "filename": part.get_filename(),
        "disposition": part.get_content_disposition(),
        "content_id": part["content-id"],
        "cte": part["content-transfer-encoding"],
        "charset": part.get_param("charset"),
    }
    if part.is_multipart():
        node["parts"] = [tree(p) for p in part.iter_parts()]
    else:
        data = part.get_payload(decode=True)
        node["data_b64"] = base64.b64encode(data).decode()
        if part.get_content_maintype() == "text":
            node["text"] = part.get_content()
    return node


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = []
    for p in msg.walk():
        defects.extend(type(d).__name__ for d in p.defects)
        for name in p.keys():
            defects.extend(type(d).__name__ for d in getattr(p[name], "defects", ()))
    out = {
        "defects": defects,
        "subject": msg["subject"],
        "date": msg["date"],
        "message_id": msg["message-id"],
        # The RFC 5322 msg-id grammar as Python applies it: ["msg-id"] for
        # one well-formed `<left@right>`.
        "message_id_syntax": None
        if msg["message-id"] is None
        else [t.token_type for t in hvp.parse_message_id(str(msg["message-id"]))],
        "in_reply_to": msg["in-reply-to"],
        "references": msg["references"],
        "mime_version": msg["mime-version"],
        "header_names": list(msg.keys()),
        "from": addresses(msg["from"]),
        "sender": addresses(msg["sender"]),
        "reply_to": addresses(msg["reply-to"]),
        "to": addresses(msg["to"]),
        "cc": addresses(msg["cc"]),
        "bcc": addresses(msg["bcc"]),
        "custom": {k: str(v) for k, v in msg.items() if k.lower().startswith("x-")},
        "tree": tree(msg),
    }
    return out


# With file arguments: one JSON line per file; else one message on stdin.
if len(sys.argv) > 1:
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            print(json.dumps(parse(f.read())))
else:
    print(json.dumps(parse(sys.stdin.buffer.read())))
