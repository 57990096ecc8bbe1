//! The async HTTP client against real servers started on 127.0.0.1:
//! nginx (plain and TLS) and Python's `http.server`. Each scenario takes
//! the runtime to build its agent on.

use std::collections::HashSet;
use std::future::poll_fn;
use std::pin::Pin;

use futures_io::AsyncRead;
use wireloom_core::http::{StatusCode, Version};
use wireloom_io::aio::client::{Agent, AgentConfig, HttpError, Response};
use wireloom_io::rt::Runtime;
use wireloom_io::tls::ClientTlsConfig;

use crate::fs::temp_dir;
use crate::peers::{python_http_server, start_nginx};
use crate::pki;
use crate::process::ChildGuard;

/// nginx serving `root` with a few locations; `X-Conn` names the
/// connection a request came on, `X-Requests` counts its requests.
pub fn nginx(root: &std::path::Path, listen_extra: &str, tls: &str) -> (ChildGuard, u16) {
    start_nginx(
        listen_extra,
        &format!(
            r#"{tls}
        root {root};
        location = /moved {{ return 301 /hello.txt; }}
        location = /see-other {{ return 303 /hello.txt; }}
        location = /conn {{
            add_header X-Conn $connection always;
            add_header X-Requests $connection_requests always;
            return 200 "ok";
        }}"#,
            root = root.display()
        ),
    )
}

/// Reads a body through `futures-io` `AsyncRead`, `n` bytes at a time.
async fn read_small<R: Runtime>(res: &mut Response<R>, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; n];
    loop {
        let got = poll_fn(|cx| Pin::new(&mut *res).poll_read(cx, &mut buf))
            .await
            .unwrap();
        if got == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..got]);
    }
}

/// The agent against nginx: keep-alive on one pooled connection, a 5 MB
/// body streamed in pieces and through `AsyncRead`, the body size limit,
/// redirects (followed or not, 303 turning POST into GET), HEAD and 404.
pub async fn agent_against_nginx<R: Runtime>(rt: R) {
    let root = temp_dir("nginx");
    std::fs::write(root.join("hello.txt"), "hello from nginx\n").unwrap();
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    let (_nginx, port) = nginx(&root, "", "");
    let agent = Agent::with_runtime(rt.clone(), AgentConfig::default());
    let base = format!("http://127.0.0.1:{port}");

    let res = agent
        .get(&format!("{base}/hello.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/plain"));
    assert_eq!(res.text(1 << 20).await.unwrap(), "hello from nginx\n");

    // Keep-alive: the pooled connection carries the next requests (one
    // nginx connection, its request counter going up).
    let mut conns = HashSet::new();
    for i in 1..=3 {
        let res = agent.get(&format!("{base}/conn")).send().await.unwrap();
        conns.insert(res.header("x-conn").unwrap().to_string());
        assert_eq!(res.header("x-requests"), Some(&*format!("{}", i + 1)));
        res.bytes(100).await.unwrap();
    }
    assert_eq!(conns.len(), 1, "{conns:?}");
    assert_eq!(agent.idle_connections(), 1);

    // A large body streamed in pieces, and through AsyncRead.
    let mut res = agent.get(&format!("{base}/big.bin")).send().await.unwrap();
    let (mut got, mut pieces) = (Vec::with_capacity(big.len()), 0);
    while let Some(piece) = res.chunk().await.unwrap() {
        pieces += 1;
        got.extend_from_slice(&piece);
    }
    assert!(got == big, "streamed body differs");
    assert!(pieces > 10, "{pieces} pieces");
    let mut res = agent.get(&format!("{base}/big.bin")).send().await.unwrap();
    assert!(read_small(&mut res, 7777).await == big);
    let res = agent.get(&format!("{base}/big.bin")).send().await.unwrap();
    assert!(matches!(
        res.bytes(1000).await,
        Err(HttpError::BodyTooLarge(1000))
    ));

    // Redirects: followed, or not; 303 turns POST into GET.
    let res = agent.get(&format!("{base}/moved")).send().await.unwrap();
    assert!(res.url().ends_with("/hello.txt"), "{}", res.url());
    assert_eq!(res.text(100).await.unwrap(), "hello from nginx\n");
    let res = agent
        .get(&format!("{base}/moved"))
        .redirects(0)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 301);
    let res = agent
        .post(&format!("{base}/see-other"))
        .body("data")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(100).await.unwrap(), "hello from nginx\n");

    // HEAD: no body even though a length is stated; 404.
    let res = agent.head(&format!("{base}/big.bin")).send().await.unwrap();
    assert_eq!(res.header("content-length"), Some("5000000"));
    assert!(res.bytes(0).await.unwrap().is_empty());
    let res = agent.get(&format!("{base}/missing")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    res.bytes(1 << 20).await.unwrap();
    // Everything above went over one or two connections.
    assert!(agent.idle_connections() >= 1);
    std::fs::remove_dir_all(&root).ok();
}

/// The agent against nginx over TLS (a test CA): requests by name and by
/// address on one pooled connection, a 3 MB body; the default roots refuse
/// the certificate, and no TLS configuration at all is a local error.
pub async fn agent_against_nginx_tls<R: Runtime>(rt: R) {
    let (ca_pem, leaf) = pki::localhost();
    let dir = temp_dir("nginx-tls");
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello over tls\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    let tls_conf = format!(
        "ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;",
        d = dir.display()
    );
    let (_nginx, port) = nginx(&dir, "ssl", &tls_conf);
    let tls = ClientTlsConfig::builder()
        .add_root_pem(ca_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let agent = Agent::with_runtime(
        rt.clone(),
        AgentConfig {
            tls: Some(tls),
            ..AgentConfig::default()
        },
    );
    let res = agent
        .get(&format!("https://localhost:{port}/hello.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text(1000).await.unwrap(), "hello over tls\n");
    // Reuse over TLS: one connection for all three.
    let mut conns = HashSet::new();
    for i in 1..=3 {
        let res = agent
            .get(&format!("https://127.0.0.1:{port}/conn"))
            .send()
            .await
            .unwrap();
        conns.insert(res.header("x-conn").unwrap().to_string());
        assert_eq!(res.header("x-requests"), Some(&*i.to_string()));
        res.bytes(10).await.unwrap();
    }
    assert_eq!(conns.len(), 1, "{conns:?}");
    let res = agent
        .get(&format!("https://localhost:{port}/big.bin"))
        .send()
        .await
        .unwrap();
    assert!(res.bytes(1 << 24).await.unwrap() == big);
    // The default roots do not know our CA; no TLS configuration at all
    // is a local error.
    let strict = Agent::with_runtime(
        rt.clone(),
        AgentConfig {
            tls: Some(ClientTlsConfig::new().unwrap()),
            ..AgentConfig::default()
        },
    );
    let r = strict
        .get(&format!("https://localhost:{port}/hello.txt"))
        .send()
        .await;
    assert!(matches!(r, Err(HttpError::Tls(_))), "{r:?}");
    let r = Agent::with_runtime(rt.clone(), AgentConfig::default())
        .get(&format!("https://localhost:{port}/"))
        .send()
        .await;
    assert!(
        matches!(r, Err(HttpError::Tls(wireloom_io::tls::TlsError::Usage(_)))),
        "{r:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The agent against Python's `http.server` (HTTP/1.0: every response
/// closes and the agent reconnects), and its 404.
pub async fn agent_against_python_http_server<R: Runtime>(rt: R) {
    let root = temp_dir("pyroot");
    std::fs::write(root.join("index.html"), "<p>python</p>").unwrap();
    let (_peer, port) = python_http_server(&root);
    let agent = Agent::with_runtime(rt.clone(), AgentConfig::default());
    for _ in 0..3 {
        // HTTP/1.0 server: each response closes; the agent reconnects.
        let res = agent
            .get(&format!("http://127.0.0.1:{port}/index.html"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.head().version, Version::Http10);
        assert_eq!(res.text(1000).await.unwrap(), "<p>python</p>");
    }
    assert_eq!(agent.idle_connections(), 0);
    let res = agent
        .get(&format!("http://127.0.0.1:{port}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(&root).ok();
}
