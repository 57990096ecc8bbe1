# aiosmtpd as a real SMTP peer for the wireloom clients' tests (started by
# wireloom-testkit's smtp.rs): plain, STARTTLS or implicit TLS; optional AUTH
# PLAIN/LOGIN for alice/secret; refuses recipients starting with `nobody`;
# prints each delivered message as a JSON line.
import base64, json, logging, socket, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# Quiet: deprecation notices from aiosmtpd itself, and the tracebacks of
# handshakes our tests make fail on purpose.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
mode, auth, cert, key = sys.argv[1], sys.argv[2] == "auth", sys.argv[3], sys.argv[4]

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            # session.ssl: STARTTLS; the transport's ssl_object: implicit TLS.
            "tls": session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "data_base64": base64.b64encode(envelope.original_content).decode(),
        }), flush=True)
        return "250 2.0.0 queued"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"alice" and auth_data.password == b"secret"
    # handled=False: aiosmtpd answers 535 itself on failure.
    return AuthResult(success=ok, handled=False)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
kwargs = {}
if mode == "starttls":
    kwargs = dict(tls_context=ctx, require_starttls=True)
elif mode == "implicit":
    kwargs = dict(ssl_context=ctx)
if auth:
    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls (not an
    # ssl_context): with implicit TLS the check is off, the transport is TLS.
    kwargs.update(authenticator=authenticator, auth_require_tls=(mode == "starttls"))
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
c = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
c.start()
print(json.dumps({"port": port}), flush=True)
sys.stdin.read()
c.stop()
