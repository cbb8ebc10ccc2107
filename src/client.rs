//! Who is on the other end of a request, as plain data: the address and
//! user agent recorded on sessions and in the security log, and counted by
//! rate limits. Reading them from a request (and which proxies to believe)
//! is `auth::client`'s job.

use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn ip_string(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}
