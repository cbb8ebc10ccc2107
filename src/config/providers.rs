//! OAuth providers from the `oauth.<name>` config tables. `github`,
//! `google` and `gitlab` are presets: only `client_id` and `client_secret`
//! are needed, every other key may still be overridden. A provider without
//! credentials is left out (not shown, and its routes are 404).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;

/// One provider, complete and validated.
#[derive(Clone, Debug)]
pub struct Provider {
    /// The config table's name, used in URLs: `/oauth/<name>/...`.
    pub name: String,
    pub display_name: String,
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    /// Where to find the primary verified email when the profile has none
    /// (GitHub's `/user/emails`).
    pub emails_url: Option<String>,
    pub scopes: Vec<String>,
    pub id_field: String,
    pub email_field: String,
    pub login_field: String,
}

impl Provider {
    /// `scheme://host[:port]` of the authorization endpoint: the browser is
    /// sent there after a POST, so the CSP's `form-action` must allow it.
    pub fn auth_origin(&self) -> &str {
        origin(&self.auth_url)
    }
}

fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The keys of an `oauth.<name>` table, all optional so presets can fill in.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProviderTable {
    client_id: Option<String>,
    client_secret: Option<String>,
    auth_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    emails_url: Option<String>,
    scopes: Option<Vec<String>>,
    id_field: Option<String>,
    email_field: Option<String>,
    login_field: Option<String>,
    display_name: Option<String>,
}

struct Preset {
    display_name: &'static str,
    auth_url: &'static str,
    token_url: &'static str,
    userinfo_url: &'static str,
    emails_url: Option<&'static str>,
    scopes: &'static [&'static str],
    id_field: &'static str,
    email_field: &'static str,
    login_field: &'static str,
}

fn preset(name: &str) -> Option<Preset> {
    Some(match name {
        "github" => Preset {
            display_name: "GitHub",
            auth_url: "https://github.com/login/oauth/authorize",
            token_url: "https://github.com/login/oauth/access_token",
            userinfo_url: "https://api.github.com/user",
            emails_url: Some("https://api.github.com/user/emails"),
            scopes: &["read:user", "user:email"],
            id_field: "id",
            email_field: "email",
            login_field: "login",
        },
        "google" => Preset {
            display_name: "Google",
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
            token_url: "https://oauth2.googleapis.com/token",
            userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo",
            emails_url: None,
            scopes: &["openid", "email", "profile"],
            id_field: "sub",
            email_field: "email",
            login_field: "email",
        },
        "gitlab" => Preset {
            display_name: "GitLab",
            auth_url: "https://gitlab.com/oauth/authorize",
            token_url: "https://gitlab.com/oauth/token",
            userinfo_url: "https://gitlab.com/api/v4/user",
            emails_url: None,
            scopes: &["read_user"],
            id_field: "id",
            email_field: "email",
            login_field: "username",
        },
        _ => return None,
    })
}

/// Builds the providers from their tables, in name order.
pub fn from_tables(tables: BTreeMap<String, ProviderTable>) -> Result<Vec<Provider>, ConfigError> {
    let mut providers = Vec::new();
    for (name, table) in tables {
        let key = |field: &str| format!("oauth.{name}.{field}");
        let bad = |field: &str, message: &str| Err(ConfigError::new(&key(field), message));
        if name.is_empty()
            || name.len() > 32
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(ConfigError::new(
                &format!("oauth.{name}"),
                "provider names are 1 to 32 of a-z, 0-9, '_' and '-'",
            ));
        }
        let (Some(client_id), Some(client_secret)) = (
            table.client_id.filter(|s| !s.trim().is_empty()),
            table.client_secret.filter(|s| !s.trim().is_empty()),
        ) else {
            // Not configured yet: left out rather than half-working.
            continue;
        };
        let preset = preset(&name);
        let pick = |value: Option<String>, default: Option<&str>, field: &str| {
            value.or_else(|| default.map(str::to_owned)).ok_or_else(|| {
                ConfigError::new(&key(field), "is required for a provider without a preset")
            })
        };
        let provider = Provider {
            display_name: pick(
                table.display_name,
                preset.as_ref().map(|p| p.display_name),
                "display_name",
            )
            .unwrap_or_else(|_| name.clone()),
            auth_url: pick(
                table.auth_url,
                preset.as_ref().map(|p| p.auth_url),
                "auth_url",
            )?,
            token_url: pick(
                table.token_url,
                preset.as_ref().map(|p| p.token_url),
                "token_url",
            )?,
            userinfo_url: pick(
                table.userinfo_url,
                preset.as_ref().map(|p| p.userinfo_url),
                "userinfo_url",
            )?,
            emails_url: table.emails_url.or_else(|| {
                preset
                    .as_ref()
                    .and_then(|p| p.emails_url)
                    .map(str::to_owned)
            }),
            scopes: table.scopes.unwrap_or_else(|| {
                preset
                    .as_ref()
                    .map(|p| p.scopes.iter().map(|s| (*s).to_owned()).collect())
                    .unwrap_or_default()
            }),
            id_field: pick(
                table.id_field,
                preset.as_ref().map(|p| p.id_field).or(Some("id")),
                "id_field",
            )?,
            email_field: pick(
                table.email_field,
                preset.as_ref().map(|p| p.email_field).or(Some("email")),
                "email_field",
            )?,
            login_field: pick(
                table.login_field,
                preset.as_ref().map(|p| p.login_field).or(Some("login")),
                "login_field",
            )?,
            name: name.clone(),
            client_id,
            client_secret,
        };
        for (field, url) in [
            ("auth_url", Some(&provider.auth_url)),
            ("token_url", Some(&provider.token_url)),
            ("userinfo_url", Some(&provider.userinfo_url)),
            ("emails_url", provider.emails_url.as_ref()),
        ] {
            if let Some(url) = url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return bad(field, "must be an http:// or https:// URL");
            }
        }
        providers.push(provider);
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(id: &str, secret: &str) -> ProviderTable {
        ProviderTable {
            client_id: Some(id.into()),
            client_secret: Some(secret.into()),
            ..Default::default()
        }
    }

    #[test]
    fn presets_need_only_credentials() {
        let providers = from_tables(BTreeMap::from([(
            "github".to_owned(),
            table("id", "secret"),
        )]))
        .unwrap();
        let github = &providers[0];
        assert_eq!(github.display_name, "GitHub");
        assert_eq!(github.userinfo_url, "https://api.github.com/user");
        assert_eq!(
            github.emails_url.as_deref(),
            Some("https://api.github.com/user/emails")
        );
        assert_eq!(github.auth_origin(), "https://github.com");
    }

    #[test]
    fn a_provider_without_credentials_is_left_out() {
        let providers =
            from_tables(BTreeMap::from([("google".to_owned(), table("", ""))])).unwrap();
        assert!(providers.is_empty());
    }

    #[test]
    fn a_custom_provider_needs_its_endpoints() {
        let err =
            from_tables(BTreeMap::from([("acme".to_owned(), table("id", "secret"))])).unwrap_err();
        assert_eq!(err.key, "oauth.acme.auth_url");
    }

    #[test]
    fn origins_are_cut_from_urls() {
        assert_eq!(
            origin("http://127.0.0.1:9000/authorize?x=1"),
            "http://127.0.0.1:9000"
        );
        assert_eq!(origin("https://example.com"), "https://example.com");
    }
}
