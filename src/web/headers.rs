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
        mark_flash_cookies(res, https);
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

/// Rocket's flash cookie (`_flash`) is made without `HttpOnly`; it carries
/// messages such as where failed sign-ins came from, so scripts must not
/// read it, and under https it must not travel in clear.
fn mark_flash_cookies(res: &mut Response<'_>, https: bool) {
    let cookies: Vec<String> = res.headers().get("Set-Cookie").map(str::to_owned).collect();
    if !cookies.iter().any(|c| c.starts_with("_flash=")) {
        return;
    }
    res.remove_header("Set-Cookie");
    for mut cookie in cookies {
        if cookie.starts_with("_flash=") {
            cookie.push_str("; HttpOnly");
            if https && !cookie.contains("; Secure") {
                cookie.push_str("; Secure");
            }
        }
        res.adjoin_header(Header::new("Set-Cookie", cookie));
    }
}
