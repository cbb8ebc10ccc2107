//! 405 Method Not Allowed under `/api`: a request whose path is served,
//! but not with its method, is told which methods are (`Allow`, RFC 9110
//! §15.5.6) instead of getting a 404. The methods come from the routes
//! Rocket has mounted, so the answer cannot drift from the API.

use rocket::http::{Header, Method, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::{Catcher, catcher};

use crate::error::AppError;

/// The catchers for `/api`: 405 + `Allow` when another method serves the
/// path, otherwise the usual JSON 404 or 400.
pub fn catchers() -> Vec<Catcher> {
    vec![
        Catcher::new(404, not_found),
        Catcher::new(400, unknown_method),
    ]
}

fn not_found<'r>(_status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move {
        let allowed = allowed_methods(req);
        if allowed.is_empty() || allowed.contains(&req.method()) {
            return AppError::NotFound.respond_to(req);
        }
        method_not_allowed(req, &allowed)
    })
}

/// Rocket answers a method it does not know (`QUERY`, a made-up one) with
/// 400 before routing, so such a request reaches this catcher without a
/// route (every routed 400 has one). On a path the API serves, it is a
/// method the path does not allow.
fn unknown_method<'r>(_status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move {
        let allowed = allowed_methods(req);
        if req.route().is_some() || allowed.is_empty() {
            return AppError::BadRequest("The request could not be understood.").respond_to(req);
        }
        method_not_allowed(req, &allowed)
    })
}

fn method_not_allowed(req: &Request<'_>, allowed: &[Method]) -> response::Result<'static> {
    let mut response = AppError::MethodNotAllowed.respond_to(req)?;
    let list: Vec<&str> = allowed.iter().map(|method| method.as_str()).collect();
    response.set_header(Header::new("Allow", list.join(", ")));
    Ok(response)
}

/// Every method some mounted route serves this request's path with; HEAD
/// wherever GET is (Rocket answers HEAD with the GET route).
pub fn allowed_methods(req: &Request<'_>) -> Vec<Method> {
    let path = req.uri().path();
    let mut methods: Vec<Method> = req
        .rocket()
        .routes()
        .filter(|route| path_matches(route.uri.path(), path.as_str()))
        .map(|route| route.method)
        .collect();
    if methods.contains(&Method::Get) {
        methods.push(Method::Head);
    }
    methods.sort_by_key(|method| method.as_str());
    methods.dedup();
    methods
}

/// Whether a route's path pattern (`/api/v1/sessions/<id>`) matches a
/// request path: static segments equal, `<x>` any one non-empty segment,
/// `<x..>` the rest.
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.trim_end_matches('/').split('/');
    let mut path = path.trim_end_matches('/').split('/');
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), _) if p.starts_with('<') && p.ends_with("..>") => return true,
            (Some(p), Some(s)) if p.starts_with('<') && p.ends_with('>') && !s.is_empty() => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn route_patterns_match_paths_segment_by_segment() {
        assert!(path_matches("/api/v1/me", "/api/v1/me"));
        assert!(path_matches(
            "/api/v1/sessions/<id>",
            "/api/v1/sessions/abc"
        ));
        assert!(!path_matches("/api/v1/sessions/<id>", "/api/v1/sessions"));
        assert!(!path_matches(
            "/api/v1/sessions/<id>",
            "/api/v1/sessions/a/b"
        ));
        assert!(!path_matches("/api/v1/me", "/api/v1/me/x"));
        assert!(path_matches("/static/<path..>", "/static/css/a.css"));
    }
}
