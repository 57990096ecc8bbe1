//! HTTPS end to end: our server under curl, our client against nginx with
//! TLS. Certificates: a test CA and leaves (`wireloom_testkit::pki`).

use std::process::{Command, Stdio};
use std::sync::Arc;

use wireloom_blocking::client::{Agent, AgentConfig, ClientError};
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Request, Response, Server};
use wireloom_blocking::tls::{
    acceptor, certificates_from_pem, crypto_provider, ClientTlsConfig, ServerTlsConfig,
};
use wireloom_core::http::{Method, StatusCode};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::peers::start_nginx;
use wireloom_testkit::pki::{pki, write_files};

#[test]
fn curl_against_our_https_server() {
    let p = pki();
    let dir = temp_dir("https-curl");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &p.ca_pem).unwrap();
    let tls = ServerTlsConfig::from_pem(
        p.localhost.cert_pem.as_bytes(),
        p.localhost.key_pem.as_bytes(),
    )
    .unwrap();
    let mut r = Router::new();
    r.route(
        Method::GET,
        "/plaintext",
        Server::handler(|_: &mut Request<'_>| Response::text(StatusCode::OK, "Hello, World!")),
    )
    .unwrap();
    r.route(
        Method::POST,
        "/echo",
        Server::handler(|req: &mut Request<'_>| {
            Response::bytes(
                StatusCode::OK,
                "application/octet-stream",
                req.read_body(1 << 24).unwrap_or_default(),
            )
        }),
    )
    .unwrap();
    let server = Server::builder()
        .bind("127.0.0.1:0")
        .unwrap()
        .threads(4)
        .acceptor(acceptor(tls))
        .router(r)
        .build()
        .unwrap();
    let port = server.local_addrs()[0].port();
    let h = server.spawn().unwrap();
    let url = format!("https://localhost:{port}/plaintext");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(&ca)
        .args(["-w", "\n%{num_connects} %{http_version}\n", &url, &url])
        .output()
        .expect("curl must be installed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello, World!\n1 1.1\nHello, World!\n0 1.1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A 2 MiB upload over TLS, chunked.
    let payload = dir.join("up.bin");
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&payload, &data).unwrap();
    let out_file = dir.join("down.bin");
    let st = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(&ca)
        .args(["-H", "Transfer-Encoding: chunked", "--data-binary"])
        .arg(format!("@{}", payload.display()))
        .arg("-o")
        .arg(&out_file)
        .arg(format!("https://localhost:{port}/echo"))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::read(&out_file).unwrap(), data);
    // Without the CA, curl refuses our certificate.
    let st = Command::new("curl")
        .args(["-sS", "--max-time", "10", &url])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(60));
    h.shutdown();
}

#[test]
fn our_client_against_nginx_tls() {
    let p = pki();
    let dir = temp_dir("nginx-tls");
    write_files(&p, &dir);
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "hello over tls\n").unwrap();
    let (_nginx, port) = start_nginx(
        "ssl",
        &format!(
            r#"ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        root {d}/root;
        location = /conn {{ add_header X-Requests $connection_requests always; return 200 "ok"; }}"#,
            d = dir.display()
        ),
    );
    let tls = ClientTlsConfig::builder()
        .add_root_pem(p.ca_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let agent = Agent::with_config(AgentConfig {
        tls: Some(Arc::new(tls)),
        ..AgentConfig::default()
    });
    let res = agent
        .get(&format!("https://localhost:{port}/hello.txt"))
        .send()
        .unwrap();
    assert_eq!(res.into_string(1000).unwrap(), "hello over tls\n");
    for i in 1..=3 {
        let res = agent
            .get(&format!("https://127.0.0.1:{port}/conn"))
            .send()
            .unwrap();
        assert_eq!(res.header("x-requests"), Some(&*(i.to_string())));
        res.into_bytes(10).unwrap();
    }
    // A complete custom rustls ClientConfig (our CA as the only root).
    let mut roots = rustls::RootCertStore::empty();
    for c in certificates_from_pem(p.ca_pem.as_bytes()).unwrap() {
        roots.add(c).unwrap();
    }
    let mut custom = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    custom.alpn_protocols = vec![b"http/1.1".to_vec()];
    let custom = Agent::with_config(AgentConfig {
        tls: Some(Arc::new(ClientTlsConfig::from_rustls(Arc::new(custom)))),
        ..AgentConfig::default()
    });
    let res = custom
        .get(&format!("https://localhost:{port}/hello.txt"))
        .send()
        .unwrap();
    assert_eq!(res.into_string(1000).unwrap(), "hello over tls\n");
    // Default roots do not know our CA: refused.
    let strict = Agent::with_config(AgentConfig {
        tls: Some(Arc::new(ClientTlsConfig::new().unwrap())),
        ..AgentConfig::default()
    });
    assert!(matches!(
        strict
            .get(&format!("https://localhost:{port}/hello.txt"))
            .send(),
        Err(ClientError::Tls(_))
    ));
    // And https without a connector is a clear error.
    assert!(matches!(
        Agent::new()
            .get(&format!("https://localhost:{port}/"))
            .send(),
        Err(ClientError::Tls(_))
    ));
}
