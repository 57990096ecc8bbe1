# aiosmtpd as the relay's smarthost in mail-relay's tests. Appends one JSON
# line per event to the record file (flushed before the reply is sent):
#   {"event":"data","peer","mail_from","mail_options","rcpt_to","data_base64"}
#   before its 250
#   {"event":"rcpt_refused","rcpt","code"}
# Recipients: "reject*" -> 550 5.1.1; "tempfailN*" -> 451 4.7.1 for the
# first N RCPTs naming that address, then 250. Every DATA waits `delay`
# seconds before recording and answering (a slow smarthost).
# Usage: smarthost.py RECORD_FILE DELAY [PORT [SIZE_LIMIT]] (PORT 0: any);
# prints {"port": N}; stops at stdin EOF.
import asyncio, base64, json, logging, re, socket, sys
from aiosmtpd.controller import Controller

logging.getLogger("mail.log").setLevel(logging.CRITICAL)
record_path, delay = sys.argv[1], float(sys.argv[2])
record = open(record_path, "a", buffering=1)
tempfails = {}

def log(obj):
    record.write(json.dumps(obj) + "\n")
    record.flush()

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("reject"):
            log({"event": "rcpt_refused", "rcpt": address, "code": 550})
            return "550 5.1.1 No such user"
        m = re.match(r"tempfail(\d+)", local)
        if m:
            seen = tempfails.get(address, 0)
            if seen < int(m.group(1)):
                tempfails[address] = seen + 1
                log({"event": "rcpt_refused", "rcpt": address, "code": 451})
                return "451 4.7.1 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if delay > 0:
            await asyncio.sleep(delay)
        log({
            "event": "data",
            "peer": "%s:%s" % tuple(session.peer[:2]),
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_to": envelope.rcpt_tos,
            "data_base64": base64.b64encode(envelope.original_content).decode(),
        })
        return "250 2.0.0 queued"

size_limit = int(sys.argv[4]) if len(sys.argv) > 4 else 0
if len(sys.argv) > 3 and int(sys.argv[3]) != 0:
    port = int(sys.argv[3])
else:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
c = Controller(Handler(), hostname="127.0.0.1", port=port, data_size_limit=size_limit)
c.start()
print(json.dumps({"port": port}), flush=True)
sys.stdin.read()
c.stop()
