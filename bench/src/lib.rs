//! wireloom-bench: comparisons of wireloom against the crates a user would
//! otherwise pick, measured side by side in one run. See `BENCHMARKS.md`.
//!
//! Binaries: `wireloom_server`, `wireloom_tokio_server`,
//! `wireloom_async_server` and `hyper_server` (the contestants of
//! `bench/load.sh`), `client_bench` (wireloom-blocking's client vs ureq,
//! wireloom-tokio's vs reqwest), `smtp_bench` (wireloom-blocking's SMTP
//! client vs lettre, to Postfix `smtp-sink`).

pub mod hyper_peer {
    //! The hyper 1 peer server, written the way a typical hyper user writes
    //! a small server: a tokio accept loop, one task per connection,
    //! `http1::Builder::serve_connection` with a `service_fn`.
    //!
    //! Routes: `GET /plaintext` (`Hello, World!`) and the regular files
    //! directly under a root by name (`GET /NAME`), either read once at
    //! start-up and served as `Bytes` from memory ([`Files::Memory`]), or
    //! read with `tokio::fs::read` on every request ([`Files::Fs`]).

    use std::collections::HashMap;
    use std::convert::Infallible;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper::header::{HeaderValue, CONTENT_TYPE};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Method, Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    /// How static files are served.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Files {
        /// Read once at start-up, served from memory.
        Memory,
        /// `tokio::fs::read` per request.
        Fs,
    }

    /// What the server serves.
    pub struct State {
        files: Files,
        root: Option<PathBuf>,
        memory: HashMap<String, Bytes>,
    }

    impl State {
        /// Routes for `root` (none: only `/plaintext`).
        pub fn new(root: Option<PathBuf>, files: Files) -> std::io::Result<State> {
            let memory = match (&root, files) {
                (Some(r), Files::Memory) => load_dir(r)?,
                _ => HashMap::new(),
            };
            Ok(State {
                files,
                root,
                memory,
            })
        }
    }

    /// Every regular file directly under `dir`, by `/NAME`.
    fn load_dir(dir: &Path) -> std::io::Result<HashMap<String, Bytes>> {
        let mut map = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                map.insert(
                    format!("/{name}"),
                    Bytes::from(std::fs::read(entry.path())?),
                );
            }
        }
        Ok(map)
    }

    /// Options of hyper's `http1::Builder` that the benchmarks vary.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct ConnOptions {
        /// `http1::Builder::pipeline_flush`: answers to pipelined requests
        /// already read are written together instead of one write each
        /// (hyper's default: off).
        pub pipeline_flush: bool,
    }

    /// Accepts and serves connections forever with hyper's default
    /// connection options (call inside a tokio runtime).
    pub async fn serve(listener: TcpListener, state: Arc<State>) {
        serve_with(listener, state, ConnOptions::default()).await
    }

    /// Accepts and serves connections forever with `options`.
    pub async fn serve_with(listener: TcpListener, state: Arc<State>, options: ConnOptions) {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(_) => {
                    // EMFILE and friends: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(Arc::clone(&state), req));
                let _ = http1::Builder::new()
                    .pipeline_flush(options.pipeline_flush)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }

    fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(body));
        *res.status_mut() = status;
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        res
    }

    async fn handle(
        state: Arc<State>,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        if req.method() != Method::GET {
            return Ok(reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"method not allowed\n"),
            ));
        }
        let path = req.uri().path();
        if path == "/plaintext" {
            return Ok(reply(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"Hello, World!"),
            ));
        }
        let found = match state.files {
            Files::Memory => state.memory.get(path).cloned(),
            Files::Fs => {
                let name = &path[1..];
                match &state.root {
                    Some(root)
                        if !name.is_empty() && !name.contains('/') && !name.contains("..") =>
                    {
                        tokio::fs::read(root.join(name)).await.ok().map(Bytes::from)
                    }
                    _ => None,
                }
            }
        };
        Ok(match found {
            Some(body) => reply(StatusCode::OK, "application/octet-stream", body),
            None => reply(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                Bytes::from_static(b"not found\n"),
            ),
        })
    }
}

/// The command line of the WebSocket echo contestants of `bench/ws.sh`:
/// `NAME [--addr HOST:PORT]` (default `127.0.0.1:0`); on a bad argument,
/// prints the usage and gives the exit code to return.
pub fn ws_args(name: &str) -> Result<String, std::process::ExitCode> {
    let mut addr = "127.0.0.1:0".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--addr", Some(v)) => addr = v,
            (other, _) => {
                eprintln!("{name}: unknown or incomplete argument {other}\nusage: {name} [--addr HOST:PORT]");
                return Err(std::process::ExitCode::from(2));
            }
        }
    }
    Ok(addr)
}
