//! Who is on the other end of a request: address and user agent, as
//! recorded on sessions and in the security log, and as rate limits count.
//!
//! The address is the socket peer. Only when the peer is one of the
//! configured `trusted_proxies` are `X-Forwarded-For` / `X-Real-IP` read;
//! from anyone else they are ignored, or a client could pick its address.

use std::net::IpAddr;

use rocket::request::{FromRequest, Outcome, Request};

/// The user agent is cut to this many bytes before it is stored.
const MAX_USER_AGENT: usize = 512;

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn of(req: &Request<'_>) -> ClientInfo {
        let trusted = req
            .rocket()
            .state::<crate::config::AppConfig>()
            .map_or(&[][..], |config| &config.trusted_proxies[..]);
        let user_agent = req.headers().get_one("User-Agent").map(|ua| {
            let mut end = ua.len().min(MAX_USER_AGENT);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            ua[..end].to_owned()
        });
        let peer = req.remote().map(|addr| addr.ip());
        let ip = match peer {
            Some(peer) if trusted.iter().any(|net| net.contains(&peer)) => {
                forwarded_client(req, trusted).or(Some(peer))
            }
            other => other,
        };
        ClientInfo { ip, user_agent }
    }

    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// The client behind trusted proxies: the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy (entries further left are
/// whatever the client chose to send), else `X-Real-IP`.
fn forwarded_client(req: &Request<'_>, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get("X-Forwarded-For")
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    if let Some(last) = forwarded.last() {
        let client = forwarded
            .iter()
            .rev()
            .find(|ip| !trusted.iter().any(|net| net.contains(*ip)))
            .or(forwarded.first())
            .unwrap_or(last);
        return Some(*client);
    }
    req.headers().get_one("X-Real-IP")?.trim().parse().ok()
}

/// "Firefox on Linux", "Chrome on Windows", "Safari on iPhone": what a
/// person recognises of a user agent, by the woothee parser's rules.
pub fn describe_user_agent(user_agent: Option<&str>) -> String {
    static PARSER: std::sync::LazyLock<woothee::parser::Parser> =
        std::sync::LazyLock::new(woothee::parser::Parser::new);
    let Some(parsed) = user_agent.and_then(|ua| PARSER.parse(ua)) else {
        return "Unknown browser".to_owned();
    };
    let known = |value: &str| (value != woothee::woothee::VALUE_UNKNOWN).then(|| value.to_owned());
    let os = known(parsed.os).map(|os| match os.as_str() {
        os if os.starts_with("Windows") => "Windows".to_owned(),
        "Mac OSX" => "macOS".to_owned(),
        _ => os,
    });
    match (known(parsed.name), os) {
        (Some(name), Some(os)) => format!("{name} on {os}"),
        (Some(name), None) => name,
        (None, Some(os)) => format!("Unknown browser on {os}"),
        (None, None) => "Unknown browser".to_owned(),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(ClientInfo::of(req))
    }
}

#[cfg(test)]
mod tests {
    use super::describe_user_agent;

    #[test]
    fn user_agents_are_described_as_people_know_them() {
        for (ua, expected) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                "Chrome on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
        ] {
            assert_eq!(describe_user_agent(Some(ua)), expected);
        }
        assert_eq!(describe_user_agent(None), "Unknown browser");
        assert_eq!(describe_user_agent(Some("")), "Unknown browser");
    }
}
