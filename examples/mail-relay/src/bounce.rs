//! Delivery status notifications (RFC 3464 shape): a `multipart/report`
//! with a plain-text explanation, a `message/delivery-status` part (one
//! block per failed recipient) and the original message's headers as
//! `text/rfc822-headers`. Sent from the null sender `<>` so it can never
//! bounce itself.

use std::time::SystemTime;

use wireloom_core::mime::header::format_date;

use crate::spool::Rcpt;

/// Most octets of the original header section quoted back.
pub const MAX_QUOTED_HEADERS: usize = 64 * 1024;

/// The bounce for `failed` recipients of the message `original` (spool id
/// `id`) from `sender`, composed by `hostname`.
pub fn compose(
    hostname: &str,
    id: &str,
    sender: &str,
    failed: &[Rcpt],
    original: &[u8],
) -> Vec<u8> {
    let date = format_date(SystemTime::now()).unwrap_or_default();
    let boundary = format!("=_bounce_{id}");
    let mut out = String::new();
    out.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n"
    ));
    out.push_str(&format!("To: <{sender}>\r\n"));
    out.push_str("Subject: Undelivered Mail Returned to Sender\r\n");
    out.push_str(&format!("Date: {date}\r\n"));
    out.push_str(&format!("Message-ID: <{id}.bounce@{hostname}>\r\n"));
    out.push_str("Auto-Submitted: auto-replied\r\n");
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"
    ));
    out.push_str(&format!("--{boundary}\r\n"));
    out.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    out.push_str(&format!(
        "This is the mail relay at {hostname}.\r\n\r\n\
         Your message could not be delivered to the following recipients.\r\n\
         The reply of the remote server is given for each.\r\n\r\n"
    ));
    for r in failed {
        out.push_str(&format!(
            "<{}>: {}\r\n",
            r.addr,
            r.reply.as_deref().unwrap_or("failed")
        ));
    }
    out.push_str(&format!("\r\n--{boundary}\r\n"));
    out.push_str("Content-Type: message/delivery-status\r\n\r\n");
    out.push_str(&format!("Reporting-MTA: dns; {hostname}\r\n"));
    out.push_str(&format!("X-Spool-Id: {id}\r\n"));
    for r in failed {
        let reply = r.reply.as_deref().unwrap_or("");
        out.push_str("\r\n");
        out.push_str(&format!("Final-Recipient: rfc822; {}\r\n", r.addr));
        out.push_str("Action: failed\r\n");
        out.push_str(&format!("Status: {}\r\n", status(reply)));
        if reply.len() >= 3 && reply.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
            out.push_str(&format!("Diagnostic-Code: smtp; {reply}\r\n"));
        }
    }
    out.push_str(&format!("\r\n--{boundary}\r\n"));
    out.push_str("Content-Type: text/rfc822-headers\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(headers(original));
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

/// The enhanced status code of a reply text like `550 5.1.1 No such user`
/// or `4.4.7 expired`, made permanent (`5.0.0` when it has none).
fn status(reply: &str) -> String {
    // `550 5.1.1 text` from a server, or `4.4.7 text` of our own.
    reply
        .split_whitespace()
        .take(2)
        .find(|t| {
            let parts: Vec<&str> = t.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "4" | "5")
                && parts[1..]
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        })
        // A permanent failure, even when the last reply was a 4xx (expired).
        .map(|t| format!("5{}", &t[1..]))
        .unwrap_or_else(|| "5.0.0".into())
}

/// The header section of a message (up to and including its last header
/// line's CRLF), at most `MAX_QUOTED_HEADERS` octets, cut at a line end.
fn headers(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    let mut h = &message[..end.min(MAX_QUOTED_HEADERS)];
    if h.len() < end {
        let cut = h.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        h = &h[..cut];
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::RcptState;

    #[test]
    fn report_names_each_failed_recipient() {
        let failed = [Rcpt {
            addr: "nobody@y.test".into(),
            state: RcptState::Failed,
            reply: Some("550 5.1.1 No such user".into()),
            bounced: false,
        }];
        let original = b"Subject: hello\r\nFrom: a@x.test\r\n\r\nbody\r\n";
        let text =
            String::from_utf8(compose("mx.test", "id1", "a@x.test", &failed, original)).unwrap();
        assert!(text.contains("multipart/report; report-type=delivery-status"));
        assert!(text.contains(
            "Final-Recipient: rfc822; nobody@y.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
        assert!(text.contains("Subject: hello\r\nFrom: a@x.test\r\n"));
        assert!(!text.contains("\r\nbody\r\n"), "the body is not quoted");
        assert_eq!(status("451 4.4.7 expired"), "5.4.7");
        assert_eq!(status("4.4.7 delivery time expired"), "5.4.7");
        assert_eq!(status("connection refused"), "5.0.0");
    }
}
