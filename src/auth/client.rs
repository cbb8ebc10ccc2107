//! Reading [`ClientInfo`] (address and user agent) from a request, as a
//! guard.
//!
//! The address is the socket peer. Only when the peer is one of the
//! configured `trusted_proxies` are `X-Forwarded-For` / `X-Real-IP` read;
//! from anyone else they are ignored, or a client could pick its address.

use std::net::IpAddr;

use rocket::request::{FromRequest, Outcome, Request};

pub use crate::client::ClientInfo;

/// The user agent is cut to this many bytes before it is stored.
const MAX_USER_AGENT: usize = 512;

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

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(ClientInfo::of(req))
    }
}
