//! Differential check against a real peer: Python's h11 parses every corpus
//! case too, and the messages (method/target or status, headers with their
//! spelling, body, trailers) and the way the input ended must agree.
//! Deliberate disagreements (where wireloom is stricter) are listed in the
//! `h11_disagreements` snapshot, each with the case's `note` (the reason)
//! when it has one; a new one fails the test.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{json, Value};
use wireloom_conformance::http::{run, Options, Role};
use wireloom_core::http::{Lenient, Method};

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/http")
}

/// Our transcript in h11's normalised form.
fn normalise(events: &[Value]) -> (Vec<Value>, &'static str) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut msgs = Vec::new();
    let mut cur: Option<Value> = None;
    let mut body = Vec::new();
    let mut terminal = "ok";
    for e in events {
        match e["event"].as_str().unwrap() {
            "request" => {
                cur = Some(json!({"method": e["method"], "target": e["target"],
                    "version": e["version"], "headers": e["headers"]}));
                body.clear();
            }
            "response" => {
                cur = Some(json!({"status": e["status"], "reason": e["reason"],
                    "version": e["version"], "headers": e["headers"]}));
                body.clear();
            }
            "informational" => {
                msgs.push(json!({"informational": e["status"], "headers": e["headers"]}))
            }
            "data" => body.extend(b64.decode(e["base64"].as_str().unwrap()).unwrap()),
            "end" => {
                let mut m = cur.take().unwrap();
                m["body"] = json!(b64.encode(&body));
                m["trailers"] = e["trailers"].clone();
                msgs.push(m);
            }
            "upgrade" => {
                // h11 reports the switching response without a body.
                if let Some(mut m) = cur.take() {
                    m["body"] = json!("");
                    m["trailers"] = json!([]);
                    msgs.push(m);
                }
                terminal = "upgrade";
            }
            "error" => terminal = "error",
            "incomplete" => terminal = "incomplete",
            other => panic!("unknown event {other}"),
        }
    }
    (msgs, terminal)
}

#[test]
fn h11_agrees_or_disagreement_is_listed() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(corpus_dir().join("cases.json")).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut input = Vec::new();
    let mut ours = Vec::new();
    let mut notes = std::collections::HashMap::new();
    for c in manifest.as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let data = std::fs::read(corpus_dir().join(format!("{name}.http"))).unwrap();
        let role = if c["role"] == "server" {
            Role::Server
        } else {
            Role::Client
        };
        let mut opts = Options::new(role);
        if let Some(m) = c.get("method").and_then(Value::as_str) {
            opts.request_method = m.parse::<Method>().unwrap();
        }
        if let Some(l) = c.get("lenient").and_then(Value::as_array) {
            let list: Vec<&str> = l.iter().map(|f| f.as_str().unwrap()).collect();
            opts.lenient = Lenient::parse_list(&list.join(",")).unwrap();
        }
        if let Some(note) = c.get("note").and_then(Value::as_str) {
            notes.insert(name.to_string(), note.to_string());
        }
        ours.push((name.to_string(), normalise(&run(&opts, [&data[..]]))));
        input.push(
            json!({"name": name, "role": c["role"], "method": c.get("method"),
            "data": b64.encode(&data)}),
        );
    }

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/h11_runner.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed (with h11: pip install h11)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "h11 runner failed (is h11 installed? pip install h11)"
    );
    let theirs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), ours.len());

    let mut agree = 0;
    let mut lines = Vec::new();
    for ((name, (msgs, term)), h) in ours.iter().zip(&theirs) {
        assert_eq!(h["name"], name.as_str());
        let h_msgs = h["messages"].as_array().unwrap();
        let h_term = h["terminal"].as_str().unwrap();
        if msgs == h_msgs && *term == h_term {
            agree += 1;
            continue;
        }
        let line = if msgs == h_msgs {
            format!("{name}: same messages; wireloom ends `{term}`, h11 ends `{h_term}`")
        } else if msgs.len() < h_msgs.len() && h_msgs.starts_with(msgs) {
            format!(
                "{name}: wireloom stricter ({term} after {} message(s)); h11 accepts {} message(s), ends `{h_term}`",
                msgs.len(),
                h_msgs.len()
            )
        } else if h_msgs.len() < msgs.len() && msgs.starts_with(h_msgs) {
            format!(
                "{name}: h11 stricter ({h_term} after {} message(s)); wireloom accepts {} message(s), ends `{term}`",
                h_msgs.len(),
                msgs.len()
            )
        } else {
            format!(
                "{name}: messages differ\n  wireloom: {}\n  h11:      {}",
                Value::from(msgs.clone()),
                Value::from(h_msgs.clone())
            )
        };
        match notes.get(name) {
            Some(note) => lines.push(format!("{line}\n  why: {note}")),
            None => lines.push(line),
        }
    }
    assert!(agree >= 60, "only {agree} cases agree with h11");
    let report = format!(
        "{agree} of {} cases agree with h11\n\n{}",
        ours.len(),
        lines.join("\n")
    );
    insta::assert_snapshot!("h11_disagreements", report);
}
