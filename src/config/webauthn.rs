//! `webauthn.rp_id` / `webauthn.rp_name`: the relying party passkeys are
//! made for. A passkey is bound to its RP id for life, so the id must be a
//! domain (browsers refuse IP addresses) that is the host of `public_url`
//! or a parent of it.

use serde::Deserialize;

use super::ConfigError;

/// The `[webauthn]` table as written.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WebauthnTable {
    rp_id: Option<String>,
    rp_name: Option<String>,
}

/// The relying party, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// A domain: `public_url`'s host or a parent of it.
    pub id: String,
    /// What authenticators show beside the account name.
    pub name: String,
}

/// The relying party for `public_url`, or None when passkeys cannot be
/// offered: `public_url`'s host is an IP address and no `rp_id` is set.
pub fn relying_party(
    table: WebauthnTable,
    public_url: &str,
    site_name: &str,
) -> Result<Option<RelyingParty>, ConfigError> {
    let host = host_of(public_url);
    let name = table.rp_name.unwrap_or_else(|| site_name.to_owned());
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ConfigError::new(
            "webauthn.rp_name",
            "must be 1 to 64 characters without control characters",
        ));
    }
    let id = match table.rp_id {
        Some(id) => id.trim().to_ascii_lowercase(),
        None if is_domain(&host) => host.clone(),
        None => return Ok(None),
    };
    if !is_domain(&id) {
        return Err(ConfigError::new(
            "webauthn.rp_id",
            "must be a domain name such as example.com or localhost, not an IP address",
        ));
    }
    if host != id && !host.ends_with(&format!(".{id}")) {
        return Err(ConfigError::new(
            "webauthn.rp_id",
            "must be the host of public_url or a domain it is under",
        ));
    }
    Ok(Some(RelyingParty {
        id,
        name: name.to_owned(),
    }))
}

/// The host of an already validated `public_url`, lowercase, without port.
fn host_of(public_url: &str) -> String {
    let authority = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.to_ascii_lowercase()
}

/// A DNS name of letter-digit-hyphen labels with a letter in its last
/// label (so neither an IPv4 nor an IPv6 address).
fn is_domain(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|last| last.bytes().any(|b| b.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(rp_id: Option<&str>, public_url: &str) -> Result<Option<RelyingParty>, ConfigError> {
        let table = WebauthnTable {
            rp_id: rp_id.map(str::to_owned),
            rp_name: None,
        };
        relying_party(table, public_url, "Gatehouse")
    }

    #[test]
    fn the_id_defaults_to_the_host_of_public_url() {
        let rp = party(None, "https://id.example.com").unwrap().unwrap();
        assert_eq!(rp.id, "id.example.com");
        assert_eq!(rp.name, "Gatehouse");
        let local = party(None, "http://localhost:8000").unwrap().unwrap();
        assert_eq!(local.id, "localhost");
    }

    #[test]
    fn an_ip_address_host_turns_passkeys_off_unless_an_id_is_set() {
        assert_eq!(party(None, "http://127.0.0.1:8000").unwrap(), None);
        assert_eq!(party(None, "http://[::1]:8000").unwrap(), None);
        let err = party(Some("127.0.0.1"), "http://127.0.0.1:8000").unwrap_err();
        assert_eq!(err.key, "webauthn.rp_id");
    }

    #[test]
    fn the_id_must_be_the_host_or_a_parent_domain() {
        let parent = party(Some("example.com"), "https://id.example.com");
        assert_eq!(parent.unwrap().unwrap().id, "example.com");
        for bad in [
            "other.com",
            "ample.com",
            "id.example.com.evil",
            "exa mple.com",
        ] {
            let err = party(Some(bad), "https://id.example.com").unwrap_err();
            assert_eq!(err.key, "webauthn.rp_id", "{bad}");
        }
    }

    #[test]
    fn the_name_is_checked() {
        let table = WebauthnTable {
            rp_id: None,
            rp_name: Some("bad\nname".to_owned()),
        };
        let err = relying_party(table, "https://example.com", "Gatehouse").unwrap_err();
        assert_eq!(err.key, "webauthn.rp_name");
    }
}
