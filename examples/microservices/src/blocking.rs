//! The application on wireloom-blocking: a worker pool of `--threads`
//! threads (the thread-pool/backlog style of a classic socket server),
//! the blocking HTTP client with keep-alive for the calls to the other
//! services. Only glue: every decision is in [`crate::app`].

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use wireloom_blocking::client::Agent;
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Request, Response, Server};

use crate::app::{Answer, App, Call, Pattern, Reply, Step, Unavailable};
use crate::{request_id, Settings, MAX_BODY};

thread_local! {
    /// The id of the request this worker thread is serving (set by the
    /// middleware around the handler).
    static CURRENT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Calls to the other services.
struct Downstream {
    agent: Agent,
    settings: Arc<Settings>,
}

impl Downstream {
    fn call(&self, c: &Call, rid: &str) -> Result<Answer, Unavailable> {
        let mut rb = self.agent.request(c.method.clone(), &self.settings.url(c));
        for (name, value) in c.headers(rid) {
            rb = rb.header(name, value);
        }
        if let Some(b) = &c.body {
            rb = rb.body(b.clone());
        }
        let res = rb.send().map_err(|e| Unavailable(e.to_string()))?;
        let status = res.status().as_u16();
        let echoed = res.header("x-request-id").map(str::to_string);
        let body = res
            .into_bytes(MAX_BODY as u64)
            .map_err(|e| Unavailable(e.to_string()))?;
        Ok(Answer {
            status,
            body,
            request_id: echoed,
        })
    }
}

fn response(r: Reply) -> Response {
    Response::json(r.status_code(), r.body.to_string())
}

/// Middleware: the request id (see [`request_id`]).
fn request_ids(req: &mut Request<'_>, next: &dyn Fn(&mut Request<'_>) -> Response) -> Response {
    let id = request_id::accept_or_new(req.header("x-request-id"));
    CURRENT.with(|c| c.replace(id.clone()));
    next(req).header(request_id::HEADER, id)
}

/// Serves `app` until the process ends.
pub fn serve(app: Arc<App>, settings: Arc<Settings>) -> io::Result<()> {
    let agent = Agent::with_config(settings.agent_config());
    let down = Arc::new(Downstream {
        agent,
        settings: settings.clone(),
    });
    let mut router = Router::new();
    for (method, pattern, endpoint) in crate::app::routes(app.role()) {
        let (app, down) = (app.clone(), down.clone());
        let h = Server::handler(move |req: &mut Request<'_>| {
            let body = if req.has_body() {
                req.read_body(MAX_BODY)
            } else {
                Ok(Bytes::new())
            };
            let rid = CURRENT.with(|c| c.borrow().clone());
            let reply = match app.handle_read(endpoint, req.param("id"), body, &rid) {
                Step::Done(r) => r,
                Step::Call(call, then) => then(down.call(&call, &rid)),
            };
            response(reply)
        });
        let added = match pattern {
            Pattern::Path(p) => router.route(method, p, h).map(|_| ()),
            Pattern::Regex(r) => router.regex(method, r, h).map(|_| ()),
        };
        added.map_err(io::Error::other)?;
    }
    let server = Server::builder()
        .bind(settings.listen.as_str())?
        .threads(settings.threads)
        .router(router)
        .middleware(request_ids)
        .build()?;
    crate::announce(app.role(), "blocking", &server.local_addrs());
    server.run()
}
