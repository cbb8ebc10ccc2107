//! Security headers on every response, set by one fairing so no route can
//! forget them.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Request, Response};

use crate::config::AppConfig;

pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let config = req.rocket().state::<AppConfig>();
        if let Some(config) = config {
            res.set_header(Header::new(
                "Content-Security-Policy",
                config.content_security_policy.as_str(),
            ));
        }
        res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        res.set_header(Header::new("X-Frame-Options", "DENY"));
        res.set_header(Header::new("Referrer-Policy", "same-origin"));
        res.set_header(Header::new("Cross-Origin-Opener-Policy", "same-origin"));
        let https = config.is_some_and(AppConfig::is_https);
        if https {
            res.set_header(Header::new(
                "Strict-Transport-Security",
                "max-age=31536000; includeSubDomains",
            ));
        }
        // Everything but a static file (which sets its own cache lifetime)
        // may show a signed-in person's data or a CSRF token: never store it
        // in a shared or back-button cache.
        let static_file =
            req.uri().path().starts_with("/static/") && res.headers().contains("Cache-Control");
        if !static_file {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
    }
}
