//! Our TLS client against our TLS server over loopback TCP, plus pump and
//! configuration error cases.

mod tls_support;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustls::{AlertDescription, CertificateError};
use tls_support::*;
use wireloom_blocking::tls::{
    server_name, CertResolver, ClientTlsConfig, Identity, PeerClose, ServerTlsConfig, TlsError,
    TlsPump, TlsStream, Transport,
};
use wireloom_testkit::fs::temp_dir;
use wireloom_testkit::pki::{client_config, other_ca, pki, server_config, write_files};

#[test]
fn round_trip_small_and_large() {
    let p = pki();
    let (addr, server) = serve(server_config(&p, HANDSHAKE), 1, |res| {
        let mut tls = res.expect("server handshake");
        // Small message, answered upper-cased.
        let mut line = [0u8; 5];
        tls.read_exact(&mut line).expect("read ping");
        tls.write_all(&line.to_ascii_uppercase()).expect("write");
        // 1 MiB, echoed back.
        let mut big = vec![0u8; 1 << 20];
        tls.read_exact(&mut big).expect("read big");
        tls.write_all(&big).expect("echo big");
        tls.shutdown().expect("close_notify");
        (
            tls.server_name().map(str::to_owned),
            tls.alpn_protocol().map(<[u8]>::to_vec),
        )
    });
    let mut c = connect(addr, &client_config(&p.ca_pem), "localhost").expect("client handshake");
    c.write_all(b"ping\n").expect("write");
    let mut reply = [0u8; 5];
    c.read_exact(&mut reply).expect("read reply");
    assert_eq!(&reply, b"PING\n");

    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    c.write_all(&big).expect("write big");
    let mut back = Vec::new();
    c.read_to_end(&mut back).expect("read to close_notify");
    assert!(back == big, "1 MiB echo differs");
    assert!(c.peer_closed());
    assert!(!c.is_truncated());

    let out = server.join().expect("server thread");
    assert_eq!(out[0].0.as_deref(), Some("localhost"));
    assert_eq!(out[0].1.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[test]
fn sni_picks_the_certificate() {
    let p = pki();
    // (host the client asks for, SNI the server should see, leaf expected)
    let cases = [
        ("localhost", Some("localhost"), &p.localhost.der),
        ("a.test", Some("a.test"), &p.a.der),
        ("b.test", Some("b.test"), &p.b.der),
        ("B.TEST", Some("b.test"), &p.b.der),
        ("x.wild.test", Some("x.wild.test"), &p.wild.der),
        // No SNI for IP addresses: the default certificate (with an IP SAN).
        ("127.0.0.1", None, &p.localhost.der),
    ];
    let (addr, server) = serve(server_config(&p, HANDSHAKE), cases.len(), |res| {
        res.map(|t| t.server_name().map(str::to_owned))
    });
    let client = client_config(&p.ca_pem);
    for (host, _, leaf) in &cases {
        let c = connect(addr, &client, host).unwrap_or_else(|e| panic!("{host}: {e}"));
        let certs = c.pump().peer_certificates().expect("peer certs");
        assert_eq!(&certs[0], *leaf, "certificate for {host}");
    }
    let seen = server.join().expect("server thread");
    for ((host, sni, _), got) in cases.iter().zip(seen) {
        assert_eq!(got.expect("server handshake").as_deref(), *sni, "{host}");
    }
}

#[test]
fn wrong_ca_is_refused() {
    let p = pki();
    let (other_pem, _) = other_ca();
    let (addr, server) = serve(server_config(&p, HANDSHAKE), 1, |res| res.err());
    let err = connect(addr, &client_config(&other_pem), "localhost").expect_err("must fail");
    assert!(
        matches!(
            err,
            TlsError::InvalidPeerCertificate(CertificateError::UnknownIssuer)
        ),
        "{err:?}"
    );
    assert!(err.is_peer_error());
    assert!(
        err.to_string().contains("peer certificate refused"),
        "{err}"
    );
    let server_err = server
        .join()
        .expect("thread")
        .pop()
        .flatten()
        .expect("server error");
    assert_eq!(
        server_err.alert(),
        Some(AlertDescription::UnknownCA),
        "{server_err:?}"
    );
}

#[test]
fn wrong_host_name_is_refused() {
    let p = pki();
    let (addr, server) = serve(server_config(&p, HANDSHAKE), 2, |res| res.err());
    let client = client_config(&p.ca_pem);
    // Unknown SNI name: the server falls back to the localhost certificate,
    // which the client refuses for that name.
    for host in ["c.test", "deep.x.wild.test"] {
        let err = connect(addr, &client, host).expect_err("must fail");
        assert!(
            matches!(
                err,
                TlsError::InvalidPeerCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{host}: {err:?}"
        );
    }
    for e in server.join().expect("thread") {
        let e = e.expect("server error");
        assert_eq!(e.alert(), Some(AlertDescription::BadCertificate), "{e:?}");
    }
}

#[test]
fn alpn_negotiation_and_mismatch() {
    let p = pki();
    let (addr, server) = serve(server_config(&p, HANDSHAKE), 2, |res| {
        res.map(|t| t.alpn_protocol().map(<[u8]>::to_vec))
    });
    let c = connect(addr, &client_config(&p.ca_pem), "localhost").expect("handshake");
    assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));

    let h2_only = ClientTlsConfig::builder()
        .only_custom_roots()
        .add_root_pem(p.ca_pem.as_bytes())
        .expect("ca")
        .alpn_protocols(["h2"])
        .build()
        .expect("config");
    let err = connect(addr, &h2_only, "localhost").expect_err("no common protocol");
    assert_eq!(
        err.alert(),
        Some(AlertDescription::NoApplicationProtocol),
        "{err:?}"
    );

    let out = server.join().expect("thread");
    assert_eq!(
        out[0].as_ref().expect("first").as_deref(),
        Some(&b"http/1.1"[..])
    );
    assert!(
        matches!(out[1], Err(TlsError::NoApplicationProtocol)),
        "{:?}",
        out[1]
    );
}

#[test]
fn handshake_timeout_fires_for_a_silent_client() {
    let p = pki();
    let cfg = ServerTlsConfig::builder()
        .default_identity(p.localhost.identity())
        .handshake_timeout(Duration::from_millis(300))
        .build()
        .expect("config");
    assert_eq!(cfg.handshake_timeout(), Duration::from_millis(300));
    let (addr, server) = serve(cfg, 1, |res| {
        let t0 = Instant::now();
        (res.err(), t0)
    });
    let started = Instant::now();
    let silent = TcpStream::connect(addr).expect("connect");
    let (err, _) = server.join().expect("thread").pop().expect("one");
    let elapsed = started.elapsed();
    assert!(matches!(err, Some(TlsError::HandshakeTimeout)), "{err:?}");
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    drop(silent);
}

#[test]
fn handshake_timeout_default_is_ten_seconds() {
    let p = pki();
    let s = ServerTlsConfig::from_pem(
        p.localhost.cert_pem.as_bytes(),
        p.localhost.key_pem.as_bytes(),
    )
    .expect("config");
    assert_eq!(s.handshake_timeout(), Duration::from_secs(10));
    assert_eq!(s.rustls_config().alpn_protocols, vec![b"http/1.1".to_vec()]);
    let c = ClientTlsConfig::new().expect("webpki roots");
    assert_eq!(c.handshake_timeout(), Duration::from_secs(10));
}

#[test]
fn close_notify_versus_truncation() {
    let p = pki();
    let (addr, server) = serve(server_config(&p, HANDSHAKE), 3, |res| {
        let mut t = res.expect("handshake");
        let mut which = [0u8; 1];
        t.read_exact(&mut which).expect("read");
        t.write_all(b"bye").expect("write");
        match which[0] {
            b'c' => t.shutdown().expect("close_notify"),
            // Close the TCP connection without close_notify.
            _ => drop(t),
        }
    });
    let client = client_config(&p.ca_pem);

    // Clean: close_notify, then Ok(0).
    let mut c = connect(addr, &client, "localhost").expect("handshake");
    c.write_all(b"c").expect("write");
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("clean end");
    assert_eq!(got, b"bye");
    assert!(c.peer_closed() && !c.is_truncated());

    // Truncated: the data arrives, then an UnexpectedEof error.
    let mut c = connect(addr, &client, "localhost").expect("handshake");
    c.write_all(b"t").expect("write");
    let mut buf = [0u8; 3];
    c.read_exact(&mut buf).expect("data before the cut");
    assert_eq!(&buf, b"bye");
    let err = c.read(&mut buf).expect_err("truncation");
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    assert!(
        matches!(TlsError::from_io_ref(&err), Some(TlsError::Truncated)),
        "{err:?}"
    );
    assert!(c.is_truncated() && !c.peer_closed());

    // Truncated, accepted as EOF (what HTTP with its own framing may do).
    let mut c = connect(addr, &client, "localhost").expect("handshake");
    c.set_accept_truncation(true);
    c.write_all(b"t").expect("write");
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("accepted truncation");
    assert_eq!(got, b"bye");
    assert!(c.is_truncated());
    server.join().expect("thread");
}

#[test]
fn transport_enum_passes_through() {
    let p = pki();
    let (addr, server) = serve(server_config(&p, HANDSHAKE), 1, |res| {
        let mut t = res.expect("handshake");
        let mut got = Vec::new();
        t.read_to_end(&mut got).expect("read to close_notify");
        t.write_all(&got).expect("echo");
        t.shutdown().expect("close");
    });
    let c = connect(addr, &client_config(&p.ca_pem), "localhost").expect("handshake");
    let mut t = Transport::from(c);
    assert!(t.is_tls());
    assert_eq!(t.alpn_protocol(), Some(&b"http/1.1"[..]));
    t.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    t.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    assert_eq!(t.peer_addr().expect("peer"), addr);
    t.write_all(b"through the transport").expect("write");
    t.shutdown_write().expect("close_notify + FIN");
    let mut got = Vec::new();
    t.read_to_end(&mut got).expect("read");
    assert_eq!(got, b"through the transport");
    assert_eq!(t.peer_close(), Some(PeerClose::CloseNotify));
    server.join().expect("thread");

    // Plain TCP through the same enum.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr");
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read");
        s.write_all(&got).expect("write");
    });
    let mut t = Transport::from(TcpStream::connect(a).expect("connect"));
    assert!(!t.is_tls() && t.alpn_protocol().is_none());
    t.write_all(b"plain").expect("write");
    t.shutdown_write().expect("FIN");
    let mut got = Vec::new();
    t.read_to_end(&mut got).expect("read");
    assert_eq!(got, b"plain");
    assert_eq!(t.peer_close(), None);
    h.join().expect("thread");
}

/// Shuttles ciphertext between two pumps until neither has anything to send
/// (bounded).
fn shuttle(c: &mut TlsPump, s: &mut TlsPump, cp: &mut BytesMut, sp: &mut BytesMut) {
    for _ in 0..20 {
        let mut moved = false;
        while let Some(b) = c.poll_ciphertext() {
            s.handle_ciphertext(&mut BytesMut::from(&b[..]), sp)
                .expect("server input");
            moved = true;
        }
        while let Some(b) = s.poll_ciphertext() {
            c.handle_ciphertext(&mut BytesMut::from(&b[..]), cp)
                .expect("client input");
            moved = true;
        }
        if !moved {
            return;
        }
    }
    panic!("pumps did not settle");
}

#[test]
fn pump_in_memory_one_byte_at_a_time_and_close() {
    let p = pki();
    let server = server_config(&p, HANDSHAKE);
    let client = client_config(&p.ca_pem);
    let mut c = client.connect("a.test").expect("client pump");
    let mut s = server.accept().expect("server pump");
    assert!(!c.is_server() && s.is_server());
    assert!(c.is_handshaking() && c.wants_write());
    let (mut cp, mut sp) = (BytesMut::new(), BytesMut::new());

    // Feed the ClientHello one byte at a time.
    let hello = c.poll_ciphertext().expect("ClientHello");
    for byte in hello.iter() {
        let mut one = BytesMut::from(&[*byte][..]);
        s.handle_ciphertext(&mut one, &mut sp).expect("byte");
        assert!(one.is_empty(), "all input consumed");
    }
    shuttle(&mut c, &mut s, &mut cp, &mut sp);
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(s.server_name(), Some("a.test"));
    assert_eq!(c.peer_certificates().expect("certs")[0], p.a.der);
    assert!(c.protocol_version().is_some() && c.cipher_suite().is_some());

    s.write_plaintext(b"from server").expect("write");
    c.write_plaintext(b"from client").expect("write");
    shuttle(&mut c, &mut s, &mut cp, &mut sp);
    assert_eq!(&cp[..], b"from server");
    assert_eq!(&sp[..], b"from client");

    s.send_close_notify();
    assert!(s.close_sent());
    assert!(matches!(
        s.write_plaintext(b"late"),
        Err(TlsError::Usage(_))
    ));
    shuttle(&mut c, &mut s, &mut cp, &mut sp);
    assert!(c.peer_closed());
    assert!(!c.wants_read());
    assert_eq!(c.handle_eof().expect("eof"), PeerClose::CloseNotify);
    // Bytes after close_notify are discarded, not an error.
    let mut junk = BytesMut::from(&b"after close"[..]);
    c.handle_ciphertext(&mut junk, &mut cp).expect("discarded");
    assert!(junk.is_empty());
    assert_eq!(&cp[..], b"from server");
}

#[test]
fn pump_eof_cases_and_sticky_errors() {
    let p = pki();
    let server = server_config(&p, HANDSHAKE);
    let client = client_config(&p.ca_pem);

    // EOF during the handshake.
    let mut s = server.accept().expect("pump");
    assert!(matches!(
        s.handle_eof(),
        Err(TlsError::ClosedDuringHandshake)
    ));

    // close_notify in the middle of the handshake, then EOF: still an
    // incomplete session, on the pump and on a blocking stream.
    let mut c = client.connect("localhost").expect("pump");
    let mut s = server.accept().expect("pump");
    let mut wire = BytesMut::new();
    c.send_close_notify();
    while let Some(b) = c.poll_ciphertext() {
        wire.extend_from_slice(&b);
    }
    let mut sp = BytesMut::new();
    let fed = s.handle_ciphertext(&mut wire.clone(), &mut sp);
    match fed {
        // rustls refuses close_notify before the handshake completes.
        Err(e) => assert_eq!(e.alert(), Some(AlertDescription::CloseNotify), "{e:?}"),
        Ok(()) => {
            assert!(matches!(
                s.handle_eof(),
                Err(TlsError::ClosedDuringHandshake)
            ));
            assert!(matches!(
                s.handle_eof(),
                Err(TlsError::ClosedDuringHandshake)
            ));
        }
    }
    let mut st = TlsStream::server(std::io::Cursor::new(wire.to_vec()), &server).expect("stream");
    let mut buf = [0u8; 8];
    let err = st.read(&mut buf).expect_err("no session");
    assert!(TlsError::from_io_ref(&err).is_some(), "{err:?}");

    // EOF after the handshake without close_notify: truncation.
    let mut c = client.connect("localhost").expect("pump");
    let mut s = server.accept().expect("pump");
    let (mut cp, mut sp) = (BytesMut::new(), BytesMut::new());
    shuttle(&mut c, &mut s, &mut cp, &mut sp);
    assert_eq!(c.handle_eof().expect("eof"), PeerClose::Truncated);
    assert!(c.is_truncated() && c.is_eof());

    // Garbage: a fatal, sticky protocol error, with an alert for the peer.
    let mut s = server.accept().expect("pump");
    let mut garbage = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
    let err = s
        .handle_ciphertext(&mut garbage, &mut sp)
        .expect_err("not TLS");
    assert!(matches!(err, TlsError::Protocol(_)), "{err:?}");
    assert!(err.is_peer_error());
    let alert = s.poll_ciphertext().expect("alert queued");
    assert_eq!(alert[0], 0x15, "TLS alert record");
    let again = s
        .handle_ciphertext(&mut BytesMut::from(&b"\x16\x03\x01"[..]), &mut sp)
        .expect_err("sticky");
    assert_eq!(again.to_string(), err.to_string());
    assert!(s.error().is_some());
    assert!(!s.wants_read());
}

#[test]
fn configuration_errors_are_typed() {
    let p = pki();
    let cert = p.localhost.cert_pem.as_bytes();
    let key = p.localhost.key_pem.as_bytes();

    let missing = std::path::Path::new("/nonexistent/wireloom/cert.pem");
    let e = Identity::from_pem_files(missing, missing).expect_err("missing file");
    assert!(
        matches!(&e, TlsError::ReadFile { path, .. } if path == missing),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("/nonexistent/wireloom/cert.pem"),
        "{e}"
    );

    // Swapped arguments: the key file holds no certificate.
    assert!(matches!(
        Identity::from_pem(key, cert),
        Err(TlsError::NoCertificate)
    ));
    assert!(matches!(
        Identity::from_pem(b"", key),
        Err(TlsError::NoCertificate)
    ));
    assert!(matches!(
        Identity::from_pem(cert, cert),
        Err(TlsError::NoPrivateKey)
    ));
    let bad_b64 = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        Identity::from_pem(bad_b64, key),
        Err(TlsError::Pem {
            what: "certificate",
            ..
        })
    ));
    let no_end = b"-----BEGIN PRIVATE KEY-----\nAAAA\n";
    assert!(matches!(
        Identity::from_pem(cert, no_end),
        Err(TlsError::Pem {
            what: "private key",
            ..
        })
    ));
    let bad_key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        Identity::from_pem(cert, bad_key),
        Err(TlsError::BadPrivateKey(_))
    ));
    // Another certificate's key.
    let e = Identity::from_pem(cert, p.a.key_pem.as_bytes()).expect_err("mismatch");
    assert!(matches!(e, TlsError::KeyMismatch), "{e:?}");
    assert!(!e.is_peer_error());
    let junk_cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        Identity::from_pem(junk_cert, key),
        Err(TlsError::BadCertificate(_))
    ));

    assert!(matches!(
        ServerTlsConfig::builder().build(),
        Err(TlsError::NoServerCertificate)
    ));
    for bad in [
        "",
        "bad name!",
        "*.com",
        "a.*.test",
        "*",
        "127.0.0.1",
        "*.*.test",
    ] {
        let r = ServerTlsConfig::builder().sni_identity(bad, p.a.identity());
        assert!(matches!(r, Err(TlsError::InvalidHostName(_))), "{bad:?}");
    }

    assert!(matches!(
        ClientTlsConfig::builder().only_custom_roots().build(),
        Err(TlsError::NoRootCertificates)
    ));
    assert!(matches!(
        ClientTlsConfig::builder().add_root_pem(b"nothing here"),
        Err(TlsError::NoCertificate)
    ));
    assert!(matches!(
        ClientTlsConfig::builder().add_root_pem(bad_b64),
        Err(TlsError::Pem {
            what: "CA certificate",
            ..
        })
    ));
    assert!(matches!(
        ClientTlsConfig::builder().add_root_pem(junk_cert),
        Err(TlsError::BadCertificate(_))
    ));
    assert!(matches!(
        ClientTlsConfig::builder().add_root_pem_file(missing),
        Err(TlsError::ReadFile { .. })
    ));
    let client = client_config(&p.ca_pem);
    assert!(matches!(
        client.connect("bad host!"),
        Err(TlsError::InvalidHostName(_))
    ));
    assert!(server_name("[::1]").is_ok());
    assert!(server_name("127.0.0.1").is_ok());
    assert!(server_name("").is_err());
}

#[test]
fn pem_files_load() {
    let p = pki();
    let dir = temp_dir("files");
    let (cert, key, ca) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    write_files(&p, &dir);
    let server = ServerTlsConfig::from_pem_files(&cert, &key).expect("server from files");
    let client = ClientTlsConfig::builder()
        .add_root_pem_file(&ca)
        .expect("ca file")
        .build()
        .expect("client");
    let (addr, h) = serve(server, 1, |res| res.is_ok());
    connect(addr, &client, "localhost").expect("handshake");
    assert_eq!(h.join().expect("thread"), vec![true]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resolver_lookup_rules() {
    let p = pki();
    let mut r = CertResolver::new();
    assert!(r.is_empty());
    assert!(r.lookup(Some("a.test")).is_none());
    r.add("A.Test.", &p.a.identity()).expect("exact");
    r.add("*.wild.test", &p.wild.identity()).expect("wildcard");
    let a = r.lookup(Some("a.test")).expect("a");
    assert_eq!(a.cert[0], p.a.der);
    assert_eq!(
        r.lookup(Some("X.WILD.test")).expect("wild").cert[0],
        p.wild.der
    );
    assert!(
        r.lookup(Some("wild.test")).is_none(),
        "wildcard needs a label"
    );
    assert!(r.lookup(Some("a.b.wild.test")).is_none(), "one label only");
    assert!(r.lookup(None).is_none());
    r.set_default(&p.localhost.identity());
    assert_eq!(r.lookup(None).expect("default").cert[0], p.localhost.der);
    assert_eq!(
        r.lookup(Some("zzz.test")).expect("default").cert[0],
        p.localhost.der
    );
    assert_eq!(p.a.identity().certificate_chain()[0], p.a.der);
}

#[test]
fn tls_stream_over_any_read_write() {
    // The blocking stream is generic: a UnixStream pair works too.
    #[cfg(unix)]
    {
        use std::os::unix::net::UnixStream;
        let p = pki();
        let server = server_config(&p, HANDSHAKE);
        let client = client_config(&p.ca_pem);
        let (a, b) = UnixStream::pair().expect("pair");
        let h = std::thread::spawn(move || {
            let mut s = TlsStream::server(b, &server).expect("stream");
            s.handshake(Instant::now() + Duration::from_secs(5))
                .expect("handshake");
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).expect("read");
            s.write_all(&buf).expect("write");
            s.shutdown().expect("close");
        });
        let mut c = TlsStream::client(a, &client, "b.test").expect("stream");
        // No explicit handshake: the first write runs it.
        c.write_all(b"unix").expect("write");
        let mut got = Vec::new();
        c.read_to_end(&mut got).expect("read");
        assert_eq!(got, b"unix");
        h.join().expect("thread");
    }
}

#[test]
fn handshake_deadline_holds_against_a_slow_drip_client() {
    let p = pki();
    let cfg = ServerTlsConfig::builder()
        .default_identity(p.localhost.identity())
        .handshake_timeout(Duration::from_millis(300))
        .build()
        .expect("config");
    let (addr, server) = serve(cfg, 1, |res| res.err());
    let started = Instant::now();
    let mut drip = TcpStream::connect(addr).expect("connect");
    // A record header announcing a long ClientHello, then one byte every
    // 50 ms: each read makes progress, only the deadline stops it.
    drip.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .expect("header");
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(50));
        if drip.write_all(&[0x01]).is_err() || server.is_finished() {
            break;
        }
    }
    let err = server.join().expect("thread").pop().flatten();
    let elapsed = started.elapsed();
    assert!(matches!(err, Some(TlsError::HandshakeTimeout)), "{err:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}
