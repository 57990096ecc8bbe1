# Sends messages to the relay with smtplib and prints one JSON line per
# message: {"i", "ok", "code", "refused"} (code: the error's SMTP code).
# Usage: send.py PORT MODE FROM TO[,TO...] COUNT [SIZE]
#   MODE: plain | submission:USER:PASS:CAFILE (STARTTLS verified for
#   localhost, then AUTH) | nologin:CAFILE (STARTTLS, no AUTH)
import json, smtplib, ssl, sys

port, mode, sender, rcpts, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].split(","), int(sys.argv[5])
size = int(sys.argv[6]) if len(sys.argv) > 6 else 0
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("sender.test")
if mode != "plain":
    parts = mode.split(":")
    ctx = ssl.create_default_context(cafile=parts[-1])
    s.starttls(context=ctx)  # certificate checked for 127.0.0.1
    s.ehlo("sender.test")
    if parts[0] == "submission":
        try:
            s.login(parts[1], parts[2])
        except smtplib.SMTPAuthenticationError as e:
            print(json.dumps({"i": -1, "ok": False, "code": e.smtp_code, "refused": {}}), flush=True)
            sys.exit(0)
for i in range(count):
    body = "Subject: test %d\r\nX-Test-Id: %d\r\nFrom: <%s>\r\n\r\nmessage %d\r\n.leading dot\r\n" % (i, i, sender, i)
    body += "x" * size
    try:
        refused = s.sendmail(sender, rcpts, body)
        print(json.dumps({"i": i, "ok": True, "code": 250, "refused": {k: v[0] for k, v in refused.items()}}), flush=True)
    except smtplib.SMTPRecipientsRefused as e:
        print(json.dumps({"i": i, "ok": False, "code": 0, "refused": {k: v[0] for k, v in e.recipients.items()}}), flush=True)
    except (smtplib.SMTPServerDisconnected, ConnectionError) as e:
        # The relay went away (the crash tests kill it): what was
        # acknowledged so far is printed above.
        print(json.dumps({"i": i, "ok": False, "code": 0, "refused": {}, "gone": True}), flush=True)
        sys.exit(0)
    except smtplib.SMTPResponseException as e:
        print(json.dumps({"i": i, "ok": False, "code": e.smtp_code, "refused": {}}), flush=True)
        try:
            s.rset()
        except Exception:
            break
try:
    s.quit()
except Exception:
    pass
