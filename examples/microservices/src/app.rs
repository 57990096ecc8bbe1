//! The application, whatever serves it: the routes, the domain (products,
//! orders), the in-memory stores and the JSON in and out. Handlers here
//! never touch a socket: an endpoint that needs another service returns a
//! [`Step::Call`] with what to do with the answer, and the serving glue
//! ([`crate::blocking`], [`crate::on_tokio`]) makes the call with its
//! runtime's HTTP client.
//!
//! ```text
//!  client ──► gateway ──► catalogue   POST/GET /products, GET /products/{id}
//!                    └──► orders ──► catalogue (price lookup)
//!                                     POST/GET /orders, GET /orders/{id}
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wireloom_core::http::{Method, StatusCode};

/// Which program this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The public entry: forwards to the services.
    Gateway,
    /// Products.
    Catalogue,
    /// Orders (looks products up in the catalogue).
    Orders,
}

impl Role {
    /// The name in logs and `/health`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Catalogue => "catalogue",
            Role::Orders => "orders",
        }
    }
}

/// A downstream service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The catalogue.
    Catalogue,
    /// The orders service.
    Orders,
}

impl Service {
    /// Its name in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Service::Catalogue => "catalogue",
            Service::Orders => "orders",
        }
    }
}

/// A JSON answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Reply {
    fn ok(status: u16, body: Value) -> Reply {
        Reply { status, body }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    /// The status as a [`StatusCode`] (500 for a code out of range).
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// A request to another service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Where.
    pub service: Service,
    /// The method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// A JSON body, if any.
    pub body: Option<Bytes>,
}

impl Call {
    /// The header fields to send: the request id `rid` (see
    /// [`crate::request_id`]), `Accept: application/json`, and the content
    /// type when there is a body.
    pub fn headers<'a>(&self, rid: &'a str) -> Vec<(&'static str, &'a str)> {
        let mut h = vec![
            (crate::request_id::HEADER, rid),
            ("Accept", "application/json"),
        ];
        if self.body.is_some() {
            h.push(("Content-Type", "application/json"));
        }
        h
    }
}

/// What a service answered: status, body and the `X-Request-Id` it sent
/// back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Bytes,
    /// Its `X-Request-Id`.
    pub request_id: Option<String>,
}

/// The service could not be reached or did not answer in time (connect
/// and read timeouts are bounded: see the `--connect-timeout` and
/// `--read-timeout` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// What to do with the answer of a [`Call`].
pub type Then = Box<dyn FnOnce(Result<Answer, Unavailable>) -> Reply + Send>;

/// A handler's result: an answer, or a call to make first.
pub enum Step {
    /// Answer this.
    Done(Reply),
    /// Make the call, then answer what the continuation makes of it.
    Call(Call, Then),
}

/// The endpoints; the route table maps method and path onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /health`
    Health,
    /// `POST /products`
    CreateProduct,
    /// `GET /products`
    ListProducts,
    /// `GET /products/{id}` (a regular-expression route: digits only)
    GetProduct,
    /// `POST /orders`
    CreateOrder,
    /// `GET /orders`
    ListOrders,
    /// `GET /orders/{id}`
    GetOrder,
}

/// How a route matches the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// A path pattern with `{name}` segments.
    Path(&'static str),
    /// A regular expression with named groups.
    Regex(&'static str),
}

/// The route table of `role` (the gateway exposes every endpoint; each
/// service its own).
pub fn routes(role: Role) -> Vec<(Method, Pattern, Endpoint)> {
    let products = [
        (
            Method::POST,
            Pattern::Path("/products"),
            Endpoint::CreateProduct,
        ),
        (
            Method::GET,
            Pattern::Path("/products"),
            Endpoint::ListProducts,
        ),
        (
            Method::GET,
            Pattern::Regex(r"^/products/(?P<id>[0-9]{1,18})$"),
            Endpoint::GetProduct,
        ),
    ];
    let orders = [
        (
            Method::POST,
            Pattern::Path("/orders"),
            Endpoint::CreateOrder,
        ),
        (Method::GET, Pattern::Path("/orders"), Endpoint::ListOrders),
        (
            Method::GET,
            Pattern::Path("/orders/{id}"),
            Endpoint::GetOrder,
        ),
    ];
    let mut r = vec![(Method::GET, Pattern::Path("/health"), Endpoint::Health)];
    match role {
        Role::Gateway => {
            r.extend(products);
            r.extend(orders);
        }
        Role::Catalogue => r.extend(products),
        Role::Orders => r.extend(orders),
    }
    r
}

/// A product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its price in cents.
    pub price_cents: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProduct {
    name: String,
    price_cents: u64,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: u64,
    /// The product ordered.
    pub product_id: u64,
    /// How many.
    pub quantity: u32,
    /// Price times quantity, from the catalogue at ordering time.
    pub total_cents: u64,
    /// The request id the orders service saw.
    pub request_id: String,
    /// The request id the catalogue echoed on the price lookup.
    pub catalogue_request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrder {
    product_id: u64,
    quantity: u32,
}

/// Longest product name.
const MAX_NAME: usize = 200;
/// Largest quantity in one order.
const MAX_QUANTITY: u32 = 1000;

/// A table with ids from 1, behind a lock.
#[derive(Debug)]
struct Table<T> {
    rows: Mutex<BTreeMap<u64, T>>,
    next: AtomicU64,
}

impl<T: Clone> Table<T> {
    fn new() -> Table<T> {
        Table {
            rows: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(1),
        }
    }
    fn insert(&self, make: impl FnOnce(u64) -> T) -> T {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let row = make(id);
        self.rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, row.clone());
        row
    }
    fn get(&self, id: u64) -> Option<T> {
        self.rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }
    fn all(&self) -> Vec<T> {
        self.rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// One program's state: its role and its store.
#[derive(Debug)]
pub struct App {
    role: Role,
    products: Table<Product>,
    orders: Table<Order>,
}

/// Parses a JSON body into `T`; 422 with serde's message otherwise.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| Reply::error(422, format!("invalid JSON: {e}")))
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Passes a service's JSON answer on as it is; 502 if it is not JSON, 503
/// if the service is unavailable.
fn relay(service: Service) -> Then {
    Box::new(move |r| match r {
        Ok(a) => match serde_json::from_slice::<Value>(&a.body) {
            Ok(body) => Reply::ok(a.status, body),
            Err(_) => Reply::error(502, format!("{} sent no JSON", service.name())),
        },
        Err(Unavailable(_)) => Reply::error(503, format!("{} unavailable", service.name())),
    })
}

impl App {
    /// An empty store for `role`.
    pub fn new(role: Role) -> App {
        App {
            role,
            products: Table::new(),
            orders: Table::new(),
        }
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// [`handle`](Self::handle) with the request body as the serving read
    /// it: a body that could not be read (over [`crate::MAX_BODY`]) is
    /// answered 413.
    pub fn handle_read<E>(
        self: &Arc<Self>,
        endpoint: Endpoint,
        id: Option<&str>,
        body: Result<Bytes, E>,
        request_id: &str,
    ) -> Step {
        match body {
            Ok(body) => self.handle(endpoint, id, &body, request_id),
            Err(_) => Step::Done(Reply::error(413, "body too large")),
        }
    }

    /// Handles `endpoint` with path parameter `id`, the request body and
    /// the request id (from the middleware).
    pub fn handle(
        self: &Arc<Self>,
        endpoint: Endpoint,
        id: Option<&str>,
        body: &[u8],
        request_id: &str,
    ) -> Step {
        if endpoint == Endpoint::Health {
            return Step::Done(Reply::ok(200, json!({ "service": self.role.name() })));
        }
        match self.role {
            Role::Gateway => self.gateway(endpoint, id, body),
            Role::Catalogue => Step::Done(self.catalogue(endpoint, id, body)),
            Role::Orders => self.orders(endpoint, id, body, request_id),
        }
    }

    /// The gateway checks that a body is JSON, then forwards by endpoint.
    fn gateway(&self, endpoint: Endpoint, id: Option<&str>, body: &[u8]) -> Step {
        let (service, method, path) = match endpoint {
            Endpoint::CreateProduct => (Service::Catalogue, Method::POST, "/products".to_string()),
            Endpoint::ListProducts => (Service::Catalogue, Method::GET, "/products".to_string()),
            Endpoint::GetProduct => (
                Service::Catalogue,
                Method::GET,
                format!("/products/{}", id.unwrap_or("")),
            ),
            Endpoint::CreateOrder => (Service::Orders, Method::POST, "/orders".to_string()),
            Endpoint::ListOrders => (Service::Orders, Method::GET, "/orders".to_string()),
            // The router hands out percent-decoded parameters: only an id
            // the orders service could know (digits) is put into the
            // downstream path, so `..%2F`, `%3F` or spaces never reshape
            // the URL the gateway calls. Anything else is no such order.
            Endpoint::GetOrder => match id {
                Some(i)
                    if !i.is_empty() && i.len() <= 18 && i.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    (Service::Orders, Method::GET, format!("/orders/{i}"))
                }
                _ => return Step::Done(Reply::error(404, "no such order")),
            },
            Endpoint::Health => unreachable!("answered before"),
        };
        let body = if method == Method::POST {
            match parse::<Value>(body) {
                Ok(v) => Some(Bytes::from(v.to_string())),
                Err(r) => return Step::Done(r),
            }
        } else {
            None
        };
        Step::Call(
            Call {
                service,
                method,
                path,
                body,
            },
            relay(service),
        )
    }

    fn catalogue(&self, endpoint: Endpoint, id: Option<&str>, body: &[u8]) -> Reply {
        match endpoint {
            Endpoint::CreateProduct => {
                let new: NewProduct = match parse(body) {
                    Ok(n) => n,
                    Err(r) => return r,
                };
                let name = new.name.trim();
                if name.is_empty() || name.len() > MAX_NAME {
                    return Reply::error(422, format!("name: 1 to {MAX_NAME} bytes"));
                }
                let p = self.products.insert(|id| Product {
                    id,
                    name: name.to_string(),
                    price_cents: new.price_cents,
                });
                Reply::ok(201, to_value(&p))
            }
            Endpoint::ListProducts => Reply::ok(200, to_value(&self.products.all())),
            Endpoint::GetProduct => match id
                .and_then(|i| i.parse().ok())
                .and_then(|i| self.products.get(i))
            {
                Some(p) => Reply::ok(200, to_value(&p)),
                None => Reply::error(404, "no such product"),
            },
            _ => Reply::error(404, "not here"),
        }
    }

    fn orders(
        self: &Arc<Self>,
        endpoint: Endpoint,
        id: Option<&str>,
        body: &[u8],
        request_id: &str,
    ) -> Step {
        match endpoint {
            Endpoint::CreateOrder => {
                let new: NewOrder = match parse(body) {
                    Ok(n) => n,
                    Err(r) => return Step::Done(r),
                };
                if new.quantity == 0 || new.quantity > MAX_QUANTITY {
                    return Step::Done(Reply::error(422, format!("quantity: 1 to {MAX_QUANTITY}")));
                }
                // The price comes from the catalogue.
                let call = Call {
                    service: Service::Catalogue,
                    method: Method::GET,
                    path: format!("/products/{}", new.product_id),
                    body: None,
                };
                let app = Arc::clone(self);
                let request_id = request_id.to_string();
                Step::Call(call, Box::new(move |r| app.place_order(r, new, request_id)))
            }
            Endpoint::ListOrders => Step::Done(Reply::ok(200, to_value(&self.orders.all()))),
            Endpoint::GetOrder => Step::Done(
                match id
                    .and_then(|i| i.parse().ok())
                    .and_then(|i| self.orders.get(i))
                {
                    Some(o) => Reply::ok(200, to_value(&o)),
                    None => Reply::error(404, "no such order"),
                },
            ),
            _ => Step::Done(Reply::error(404, "not here")),
        }
    }

    /// Stores an order once the catalogue has answered the price lookup:
    /// an unknown product is the client's mistake (422), an unreachable
    /// catalogue is 503.
    fn place_order(
        &self,
        lookup: Result<Answer, Unavailable>,
        new: NewOrder,
        request_id: String,
    ) -> Reply {
        let answer = match lookup {
            Ok(a) => a,
            Err(Unavailable(_)) => return Reply::error(503, "catalogue unavailable"),
        };
        match answer.status {
            200 => {}
            404 => return Reply::error(422, format!("unknown product {}", new.product_id)),
            s => return Reply::error(502, format!("catalogue answered {s}")),
        }
        let product: Product = match serde_json::from_slice(&answer.body) {
            Ok(p) => p,
            Err(_) => return Reply::error(502, "catalogue sent no product"),
        };
        let order = self.orders.insert(|id| Order {
            id,
            product_id: product.id,
            quantity: new.quantity,
            total_cents: product.price_cents.saturating_mul(u64::from(new.quantity)),
            request_id,
            catalogue_request_id: answer.request_id,
        });
        Reply::ok(201, to_value(&order))
    }
}
