//! The application on wireloom-tokio: async handlers on a tokio runtime
//! (`--threads 1` a current-thread one), the async HTTP client with
//! keep-alive for the calls to the other services. Only glue: every
//! decision is in [`crate::app`].

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use wireloom_tokio::client::Agent;
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, Next, Request, Response, Server};

use crate::app::{Answer, App, Call, Pattern, Reply, Step, Unavailable};
use crate::{request_id, Settings, MAX_BODY};

tokio::task_local! {
    /// The id of the request this task is serving (set by the middleware
    /// around the rest of the chain).
    static CURRENT: String;
}

/// Calls to the other services.
struct Downstream {
    agent: Agent,
    settings: Arc<Settings>,
}

impl Downstream {
    async fn call(&self, c: &Call, rid: &str) -> Result<Answer, Unavailable> {
        let mut rb = self.agent.request(c.method.clone(), &self.settings.url(c));
        for (name, value) in c.headers(rid) {
            rb = rb.header(name, value);
        }
        if let Some(b) = &c.body {
            rb = rb.body(b.clone());
        }
        let res = rb.send().await.map_err(|e| Unavailable(e.to_string()))?;
        let status = res.status().as_u16();
        let echoed = res.header("x-request-id").map(str::to_string);
        let body = res
            .bytes(MAX_BODY as u64)
            .await
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
async fn request_ids(req: Request, next: Next) -> Response {
    let id = request_id::accept_or_new(req.header("x-request-id"));
    let res = CURRENT.scope(id.clone(), next.run(req)).await;
    res.header(request_id::HEADER, id)
}

/// Serves `app` until the process ends.
pub fn serve(app: Arc<App>, settings: Arc<Settings>) -> io::Result<()> {
    let rt = if settings.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(settings.threads);
        b
    }
    .enable_all()
    .build()?;
    rt.block_on(run(app, settings))
}

async fn run(app: Arc<App>, settings: Arc<Settings>) -> io::Result<()> {
    let agent = Agent::with_config(settings.agent_config());
    let down = Arc::new(Downstream {
        agent,
        settings: settings.clone(),
    });
    let mut router = Router::new();
    for (method, pattern, endpoint) in crate::app::routes(app.role()) {
        let (app, down) = (app.clone(), down.clone());
        let h = handler(move |mut req: Request| {
            let (app, down) = (app.clone(), down.clone());
            async move {
                let body = if req.has_body() {
                    req.read_body(MAX_BODY).await
                } else {
                    Ok(Bytes::new())
                };
                let rid = CURRENT.try_with(String::clone).unwrap_or_default();
                let step = app.handle_read(endpoint, req.param("id"), body, &rid);
                let reply = match step {
                    Step::Done(r) => r,
                    Step::Call(call, then) => then(down.call(&call, &rid).await),
                };
                response(reply)
            }
        });
        let added = match pattern {
            Pattern::Path(p) => router.route(method, p, h).map(|_| ()),
            Pattern::Regex(r) => router.regex(method, r, h).map(|_| ()),
        };
        added.map_err(io::Error::other)?;
    }
    let server = Server::builder()
        .bind(settings.listen.as_str())?
        .router(router)
        .middleware(request_ids)
        .build()?;
    crate::announce(app.role(), "tokio", server.local_addrs());
    server.run().await
}
