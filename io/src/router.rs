//! Routing by method and path: patterns with `{name}` parameters and a
//! trailing `{*rest}` wildcard, and regular-expression routes. Generic over
//! the handler type so that every adapter (blocking or async) shares it.

use std::fmt;

use wireloom_core::http::uri::percent_decode;
use wireloom_core::http::Method;

#[derive(Debug, Clone)]
enum Seg {
    Lit(String),
    Param(String),
    Rest(String),
}

#[derive(Debug, Clone)]
enum Matcher {
    Pattern(Vec<Seg>),
    Regex(regex::Regex),
}

/// A route pattern or regular expression that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError(String);

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid route: {}", self.0)
    }
}

impl std::error::Error for RouteError {}

/// Path parameters captured by a route, percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The value of parameter `name` (a `{name}` segment or a named regex group).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

struct Route<H> {
    method: Option<Method>,
    matcher: Matcher,
    handler: H,
}

/// What [`Router::find`] found.
pub enum Found<'r, H> {
    /// A route matched.
    Route(&'r H, Params),
    /// The path matched but not for this method; the allowed methods.
    MethodNotAllowed(Vec<Method>),
    /// Nothing matched.
    NotFound,
}

/// Routes in the order they were added; the first match wins.
///
/// The server routes a CONNECT request's `host:port` target as the path
/// `/host:port`, so `route(Method::CONNECT, "/{*authority}", h)` catches tunnels.
///
/// ```
/// use wireloom_io::router::{Found, Router};
/// use wireloom_core::http::Method;
/// let mut r = Router::new();
/// r.route(Method::GET, "/users/{id}", "user").unwrap();
/// r.route(Method::GET, "/static/{*path}", "static").unwrap();
/// r.regex(Method::GET, r"^/reverse/(?P<word>[a-z]+)$", "reverse").unwrap();
/// let Found::Route(h, p) = r.find(&Method::GET, "/users/42") else { panic!() };
/// assert_eq!((*h, p.get("id")), ("user", Some("42")));
/// let Found::Route(_, p) = r.find(&Method::GET, "/static/css/site.css") else { panic!() };
/// assert_eq!(p.get("path"), Some("css/site.css"));
/// let Found::Route(h, p) = r.find(&Method::HEAD, "/reverse/abc") else { panic!() };
/// assert_eq!((*h, p.get("word")), ("reverse", Some("abc")));
/// assert!(matches!(r.find(&Method::POST, "/users/1"), Found::MethodNotAllowed(_)));
/// assert!(matches!(r.find(&Method::GET, "/nope"), Found::NotFound));
/// ```
pub struct Router<H> {
    routes: Vec<Route<H>>,
}

impl<H> Default for Router<H> {
    fn default() -> Self {
        Router { routes: Vec::new() }
    }
}

impl<H> Router<H> {
    /// An empty router.
    pub fn new() -> Router<H> {
        Router::default()
    }

    /// Whether no route was added.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Adds a pattern route for `method`: literal segments, `{name}` for one
    /// segment, and a final `{*name}` for the rest of the path. GET routes
    /// also answer HEAD.
    pub fn route(
        &mut self,
        method: Method,
        pattern: &str,
        handler: H,
    ) -> Result<&mut Self, RouteError> {
        self.add(Some(method), pattern, handler)
    }

    /// Adds a pattern route for every method.
    pub fn any(&mut self, pattern: &str, handler: H) -> Result<&mut Self, RouteError> {
        self.add(None, pattern, handler)
    }

    fn add(
        &mut self,
        method: Option<Method>,
        pattern: &str,
        handler: H,
    ) -> Result<&mut Self, RouteError> {
        if !pattern.starts_with('/') {
            return Err(RouteError(format!("`{pattern}` does not start with /")));
        }
        let parts: Vec<&str> = pattern[1..].split('/').collect();
        let mut segs = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let seg = if let Some(name) = p.strip_prefix("{*").and_then(|r| r.strip_suffix('}')) {
                if i + 1 != parts.len() {
                    return Err(RouteError(format!("`{pattern}`: wildcard must be last")));
                }
                Seg::Rest(name.to_string())
            } else if let Some(name) = p.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                if name.is_empty() {
                    return Err(RouteError(format!("`{pattern}`: empty parameter name")));
                }
                Seg::Param(name.to_string())
            } else if p.contains(['{', '}']) {
                return Err(RouteError(format!(
                    "`{pattern}`: braces must enclose a whole segment"
                )));
            } else {
                Seg::Lit(p.to_string())
            };
            segs.push(seg);
        }
        self.routes.push(Route {
            method,
            matcher: Matcher::Pattern(segs),
            handler,
        });
        Ok(self)
    }

    /// Adds a regular-expression route, matched against the whole (still
    /// encoded) path; named groups become parameters. Anchor it (`^...$`).
    pub fn regex(&mut self, method: Method, re: &str, handler: H) -> Result<&mut Self, RouteError> {
        let re = regex::Regex::new(re).map_err(|e| RouteError(e.to_string()))?;
        self.routes.push(Route {
            method: Some(method),
            matcher: Matcher::Regex(re),
            handler,
        });
        Ok(self)
    }

    /// Finds the handler for `method` and `path` (the encoded path of the
    /// request-target).
    pub fn find(&self, method: &Method, path: &str) -> Found<'_, H> {
        let mut allowed: Vec<Method> = Vec::new();
        for r in &self.routes {
            let Some(params) = matches(&r.matcher, path) else {
                continue;
            };
            let ok = match &r.method {
                None => true,
                Some(m) => m == method || (*m == Method::GET && *method == Method::HEAD),
            };
            if ok {
                return Found::Route(&r.handler, params);
            }
            if let Some(m) = &r.method {
                if !allowed.contains(m) {
                    allowed.push(m.clone());
                    if *m == Method::GET && !allowed.contains(&Method::HEAD) {
                        allowed.push(Method::HEAD);
                    }
                }
            }
        }
        if allowed.is_empty() {
            Found::NotFound
        } else {
            Found::MethodNotAllowed(allowed)
        }
    }
}

fn matches(m: &Matcher, path: &str) -> Option<Params> {
    match m {
        Matcher::Regex(re) => {
            let caps = re.captures(path)?;
            let mut p = Vec::new();
            for name in re.capture_names().flatten() {
                if let Some(v) = caps.name(name) {
                    p.push((name.to_string(), percent_decode(v.as_str()).into_owned()));
                }
            }
            Some(Params(p))
        }
        Matcher::Pattern(segs) => {
            let mut rest = path.strip_prefix('/')?;
            let mut p = Vec::new();
            for (i, seg) in segs.iter().enumerate() {
                if let Seg::Rest(name) = seg {
                    p.push((name.clone(), percent_decode(rest).into_owned()));
                    return Some(Params(p));
                }
                let (this, next) = match rest.find('/') {
                    Some(k) => (&rest[..k], Some(&rest[k + 1..])),
                    None => (rest, None),
                };
                match seg {
                    Seg::Lit(l) if l == this => {}
                    Seg::Param(name) if !this.is_empty() => {
                        p.push((name.clone(), percent_decode(this).into_owned()));
                    }
                    _ => return None,
                }
                match next {
                    Some(n) => rest = n,
                    None => {
                        // Path exhausted: the pattern must be too (or end in a wildcard).
                        return match segs.get(i + 1) {
                            None => Some(Params(p)),
                            Some(Seg::Rest(name)) => {
                                p.push((name.clone(), String::new()));
                                Some(Params(p))
                            }
                            _ => None,
                        };
                    }
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let mut r = Router::new();
        r.route(Method::GET, "/", 0).unwrap();
        r.route(Method::GET, "/a/{x}/c", 1).unwrap();
        r.route(Method::POST, "/a/{x}/c", 2).unwrap();
        r.route(Method::GET, "/files/{*rest}", 3).unwrap();
        let f = |m: Method, p: &str| match r.find(&m, p) {
            Found::Route(h, params) => Some((*h, params)),
            _ => None,
        };
        assert_eq!(f(Method::GET, "/").unwrap().0, 0);
        assert!(f(Method::GET, "/a//c").is_none());
        assert_eq!(
            f(Method::GET, "/a/b%20c/c").unwrap().1.get("x"),
            Some("b c")
        );
        assert_eq!(f(Method::POST, "/a/b/c").unwrap().0, 2);
        assert!(f(Method::GET, "/a/b/c/d").is_none());
        assert_eq!(f(Method::GET, "/files/").unwrap().1.get("rest"), Some(""));
        assert_eq!(f(Method::GET, "/files").unwrap().1.get("rest"), Some(""));
        let Found::MethodNotAllowed(m) = r.find(&Method::DELETE, "/a/b/c") else {
            panic!()
        };
        assert_eq!(m, [Method::GET, Method::HEAD, Method::POST]);
        assert!(Router::<u8>::new().route(Method::GET, "x", 0).is_err());
        assert!(Router::<u8>::new()
            .route(Method::GET, "/{*a}/b", 0)
            .is_err());
        assert!(Router::<u8>::new().regex(Method::GET, "(", 0).is_err());
    }
}
