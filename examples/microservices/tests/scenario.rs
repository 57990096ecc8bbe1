//! One scenario, driven with curl, against the three services on each
//! serving (wireloom-blocking and wireloom-tokio): both must give the same
//! answers, byte for byte.

use std::process::{Command, Stdio};
use std::time::Duration;

use wireloom_testkit::process::{curl_raw, first_line, ChildGuard};

/// Starts program `bin` with `args`; returns it and its base URL.
fn start(bin: &str, runtime: &str, args: &[&str]) -> (ChildGuard, String) {
    let mut child = Command::new(bin)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--runtime",
            runtime,
            "--threads",
            "4",
        ])
        .args(["--connect-timeout", "500ms", "--read-timeout", "1s"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().expect("stdout");
    let guard = ChildGuard(child);
    let line = first_line(out, Duration::from_secs(20)).expect("the address line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL")
        .to_string();
    (guard, url)
}

/// One exchange: label, status, X-Request-Id of the answer, body.
type Line = (String, u16, String, String);

/// `curl -i` with an `X-Request-Id` (unless `rid` is empty) and an
/// optional JSON body.
fn call(label: &str, method: &str, url: &str, rid: &str, body: Option<&str>) -> Line {
    let mut args = vec!["-i", "-X", method];
    let h;
    if !rid.is_empty() {
        h = format!("X-Request-Id: {rid}");
        args.extend(["-H", h.as_str()]);
    }
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    args.push(url);
    let out = curl_raw(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let id = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("x-request-id")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    (label.to_string(), status, id, body.to_string())
}

/// Client sockets to 127.0.0.1:`port` in TCP `state` (`ss`).
fn sockets_to(port: &str, state: &str) -> usize {
    let out = Command::new("ss")
        .args(["-Htn", "state", state, "dst", &format!("127.0.0.1:{port}")])
        .output()
        .expect("ss (iproute2)");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn scenario(runtime: &str) -> Vec<Line> {
    let (mut catalogue, cat) = start(env!("CARGO_BIN_EXE_catalogue"), runtime, &[]);
    let (mut orders, ord) = start(
        env!("CARGO_BIN_EXE_orders"),
        runtime,
        &["--catalogue", &cat],
    );
    let (_gateway, gw) = start(
        env!("CARGO_BIN_EXE_gateway"),
        runtime,
        &["--catalogue", &cat, "--orders", &ord],
    );
    let u = |p: &str| format!("{gw}{p}");
    let mut t = vec![
        call("health", "GET", &u("/health"), "r1", None),
        call(
            "create loom",
            "POST",
            &u("/products"),
            "r2",
            Some(r#"{"name":"loom","price_cents":1250}"#),
        ),
        call(
            "create shuttle",
            "POST",
            &u("/products"),
            "r3",
            Some(r#"{"name":"shuttle","price_cents":300}"#),
        ),
        call("list products", "GET", &u("/products"), "r4", None),
        call(
            "get product (regex route)",
            "GET",
            &u("/products/2"),
            "r5",
            None,
        ),
        call("unknown product", "GET", &u("/products/99"), "r6", None),
        call("no route", "GET", &u("/products/abc"), "r7", None),
        call(
            "order",
            "POST",
            &u("/orders"),
            "trace-8",
            Some(r#"{"product_id":1,"quantity":3}"#),
        ),
        call(
            "order unknown product",
            "POST",
            &u("/orders"),
            "r9",
            Some(r#"{"product_id":42,"quantity":1}"#),
        ),
        call(
            "order bad JSON",
            "POST",
            &u("/orders"),
            "r10",
            Some(r#"{"product_id":1,"#),
        ),
        call(
            "order bad quantity",
            "POST",
            &u("/orders"),
            "r11",
            Some(r#"{"product_id":1,"quantity":0}"#),
        ),
        call(
            "product empty name",
            "POST",
            &u("/products"),
            "r12",
            Some(r#"{"name":" ","price_cents":1}"#),
        ),
        call("list orders", "GET", &u("/orders"), "r13", None),
        call("get order", "GET", &u("/orders/1"), "r14", None),
        call("missing order", "GET", &u("/orders/7"), "r15", None),
        // A decoded parameter never reshapes the downstream URL.
        call(
            "order id with a path",
            "GET",
            &u("/orders/..%2F..%2Fhealth"),
            "r17",
            None,
        ),
        call("wrong method", "DELETE", &u("/orders/1"), "r16", None),
    ];
    // The services talk over pooled keep-alive connections: after ten
    // calls to the catalogue (from the gateway and from orders), the
    // connections to it are still open and none was closed.
    let cat_port = cat.rsplit(':').next().unwrap();
    assert!(
        sockets_to(cat_port, "established") >= 1,
        "pooled connections"
    );
    assert_eq!(sockets_to(cat_port, "time-wait"), 0, "no connection closed");

    // No id given: one is made (32 hex digits) and sent back.
    let mut fresh = call("fresh request id", "GET", &u("/health"), "", None);
    assert_eq!(fresh.2.len(), 32, "{fresh:?}");
    assert!(fresh.2.bytes().all(|b| b.is_ascii_hexdigit()), "{fresh:?}");
    fresh.2 = "<random>".into();
    t.push(fresh);

    // The orders service hangs (stopped, its socket still accepting): the
    // gateway's read timeout answers 503 instead of waiting.
    let pid = orders.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    t.push(call("orders hanging", "GET", &u("/orders"), "r17", None));
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    // The catalogue is gone: connections are refused, 503 at once, from
    // the gateway and from the orders service behind it.
    let _ = catalogue.0.kill();
    let _ = catalogue.0.wait();
    t.push(call(
        "catalogue stopped",
        "GET",
        &u("/products"),
        "r18",
        None,
    ));
    t.push(call(
        "order, catalogue stopped",
        "POST",
        &u("/orders"),
        "r19",
        Some(r#"{"product_id":1,"quantity":1}"#),
    ));
    let _ = orders.0.kill();
    t
}

#[test]
fn blocking_and_tokio_give_the_same_answers() {
    let blocking = scenario("blocking");
    let tokio = scenario("tokio");
    for (b, k) in blocking.iter().zip(&tokio) {
        assert_eq!(b, k, "blocking vs tokio");
    }
    assert_eq!(blocking.len(), tokio.len());

    let get = |label: &str| {
        blocking
            .iter()
            .find(|l| l.0 == label)
            .unwrap_or_else(|| panic!("{label}"))
            .clone()
    };
    let json = |s: &str| {
        serde_json::from_str::<serde_json::Value>(s).unwrap_or_else(|e| panic!("{e}: {s}"))
    };
    assert_eq!(get("health").1, 200);
    assert_eq!(
        json(&get("create loom").3),
        serde_json::json!({"id":1,"name":"loom","price_cents":1250})
    );
    assert_eq!(get("create loom").1, 201);
    assert_eq!(
        json(&get("list products").3).as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(json(&get("get product (regex route)").3)["name"], "shuttle");
    assert_eq!(get("unknown product").1, 404);
    assert_eq!(get("no route").1, 404);
    let order = get("order");
    assert_eq!((order.1, order.2.as_str()), (201, "trace-8"));
    assert_eq!(
        json(&order.3),
        serde_json::json!({"id":1,"product_id":1,"quantity":3,"total_cents":3750,
            "request_id":"trace-8","catalogue_request_id":"trace-8"})
    );
    assert_eq!(get("order unknown product").1, 422);
    assert_eq!(get("order bad JSON").1, 422);
    assert!(get("order bad JSON").3.contains("invalid JSON"));
    assert_eq!(get("order bad quantity").1, 422);
    assert_eq!(get("product empty name").1, 422);
    assert_eq!(
        json(&get("list orders").3).as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(get("get order").1, 200);
    assert_eq!(get("missing order").1, 404);
    assert_eq!(get("order id with a path").1, 404);
    assert_eq!(get("wrong method").1, 405);
    for label in [
        "orders hanging",
        "catalogue stopped",
        "order, catalogue stopped",
    ] {
        let l = get(label);
        assert_eq!(l.1, 503, "{l:?}");
    }
    assert!(get("orders hanging").3.contains("orders unavailable"));
    assert!(get("order, catalogue stopped")
        .3
        .contains("catalogue unavailable"));
}
