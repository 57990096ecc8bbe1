//! The handler call for one request: the shared routing decision
//! ([`route`]: a handler, or the router's own 404/405), the middleware
//! chain around it, a panic turned into a 500, error pages
//! ([`ErrorPages::respond`]), then the response writer.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use wireloom_core::http::{Framing, ServerConnection};
use wireloom_io::http::{route, RequestInfo, ResponseBody};
use wireloom_io::trace::RequestTrace;

use super::api::{Middleware, Request, Response};
use super::builder::Shared;
use super::conn::{ConnBody, ConnDriver};
use super::respond::write_response;

/// Runs the handler for one request and writes its response; false when
/// the connection must end here.
pub(super) fn dispatch(
    shared: &Shared,
    conn: &mut ServerConnection,
    drv: &mut ConnDriver,
    req: wireloom_core::http::Request,
    peer: Option<SocketAddr>,
) -> bool {
    let trace = RequestTrace::start(&req.head, peer);
    let (found, params) = route(&shared.router, &req.head);
    let mut body = ConnBody::new(conn, drv, req.framing != Framing::Empty);
    let info = RequestInfo::new(req.head, req.framing, params, peer);
    let mut request = Request::with_info(info, &mut body);
    // Middleware wraps every answer, the router's 404 and 405 included.
    let pages = &shared.error_pages;
    let endpoint = |r: &mut Request<'_>| match found {
        Ok(handler) => handler.handle(r),
        Err(ref why) => pages.no_route(why, r.head()),
    };
    let run = |r: &mut Request<'_>| call_chain(&shared.middleware, &endpoint, r);
    let answer = match &trace {
        None => catch_unwind(AssertUnwindSafe(|| run(&mut request))),
        Some(t) => t
            .span()
            .in_scope(|| catch_unwind(AssertUnwindSafe(|| run(&mut request)))),
    }
    .ok();
    let response = pages.respond(answer, request.head());
    drop(request);
    if shared.shutdown.load(Ordering::Relaxed) {
        conn.close_after_response();
    }
    // Core stamps the Date on the response head (unless the handler set one).
    conn.set_date(wireloom_io::date::now());
    let Some(mut trace) = trace else {
        return write_response(conn, drv, response).unwrap_or(false);
    };
    trace.respond(response.head.status, response.body.length());
    let written = write_response(conn, drv, response).unwrap_or(false);
    trace.finish();
    written
}

/// The middleware chain, outermost first, then `h`.
fn call_chain(
    mws: &[Arc<dyn Middleware>],
    h: &dyn Fn(&mut Request<'_>) -> Response,
    req: &mut Request<'_>,
) -> Response {
    match mws.split_first() {
        None => h(req),
        Some((m, rest)) => m.handle(req, &|r: &mut Request<'_>| call_chain(rest, h, r)),
    }
}
