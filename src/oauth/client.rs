//! Talking to a provider: the code exchange (oauth2 crate, PKCE) and the
//! profile fetch. One shared HTTP client with redirects off (so a provider
//! cannot bounce us elsewhere) and connect/total timeouts; any failure is a
//! [`ProviderError`], which the routes answer with a 502 page.

use oauth2::basic::BasicClient;
use oauth2::reqwest;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _, TokenUrl,
};
use serde_json::Value;

use super::Provider;
use crate::accounts::forms::Email;

/// Profiles and email lists larger than this are not read.
const MAX_BODY: usize = 256 * 1024;

/// The HTTP client for provider calls, in managed state.
pub struct ProviderHttp(reqwest::Client);

impl ProviderHttp {
    pub fn new(total: std::time::Duration) -> reqwest::Result<ProviderHttp> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(total.min(std::time::Duration::from_secs(5)))
            .timeout(total)
            .user_agent("Gatehouse")
            .build()
            .map(ProviderHttp)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("provider `{provider}`: {what}")]
pub struct ProviderError {
    provider: String,
    what: String,
}

fn failed(provider: &Provider, what: impl std::fmt::Display) -> ProviderError {
    ProviderError {
        provider: provider.name.clone(),
        what: what.to_string(),
    }
}

/// Who the provider says the person is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub login: Option<String>,
    /// Only an address the provider has verified, or does not say it has not.
    pub email: Option<String>,
    /// The provider says outright that `email` is verified
    /// (`email_verified: true`, or GitHub's primary verified address).
    pub email_verified: bool,
}

pub fn redirect_uri(public_url: &str, provider: &Provider) -> String {
    format!("{public_url}/oauth/{}/callback", provider.name)
}

fn oauth_client(
    provider: &Provider,
    redirect: &str,
) -> Result<
    BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    oauth2::url::ParseError,
> {
    Ok(BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_client_secret(ClientSecret::new(provider.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(provider.auth_url.clone())?)
        .set_token_uri(TokenUrl::new(provider.token_url.clone())?)
        .set_redirect_uri(RedirectUrl::new(redirect.to_owned())?)
        // Credentials in the body: what GitHub, Google and GitLab all take.
        .set_auth_type(AuthType::RequestBody))
}

/// The provider's authorization URL for this flow.
pub fn authorize_url(
    provider: &Provider,
    redirect: &str,
    challenge: PkceCodeChallenge,
    state: CsrfToken,
) -> Result<String, oauth2::url::ParseError> {
    let client = oauth_client(provider, redirect)?;
    let (url, _) = client
        .authorize_url(move || state)
        .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .url();
    Ok(url.to_string())
}

/// Exchanges the code and fetches the identity behind it.
pub async fn fetch_identity(
    http: &ProviderHttp,
    provider: &Provider,
    redirect: &str,
    code: &str,
    verifier: String,
) -> Result<Identity, ProviderError> {
    let client = oauth_client(provider, redirect).map_err(|e| failed(provider, e))?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http.0)
        .await
        .map_err(|e| failed(provider, format!("code exchange: {e}")))?;
    let access_token = token.access_token().secret();
    let profile = get_json(http, provider, &provider.userinfo_url, access_token).await?;
    let id = match &profile[&provider.id_field] {
        Value::String(id) if !id.is_empty() && id.len() <= 255 && !crate::text::has_control(id) => {
            id.clone()
        }
        Value::Number(id) => id.to_string(),
        _ => {
            return Err(failed(
                provider,
                format!("profile has no `{}`", provider.id_field),
            ));
        }
    };
    let text = |field: &str| profile[field].as_str().map(str::to_owned);
    let unverified = profile["email_verified"] == Value::Bool(false);
    let mut email_verified = profile["email_verified"] == Value::Bool(true);
    let mut email = text(&provider.email_field)
        .filter(|_| !unverified)
        .and_then(|e| Email::parse(&e).ok())
        .map(|e| e.as_str().to_owned());
    if email.is_none()
        && let Some(emails_url) = &provider.emails_url
    {
        email = primary_verified_email(&get_json(http, provider, emails_url, access_token).await?)
            .and_then(|e| Email::parse(&e).ok())
            .map(|e| e.as_str().to_owned());
        email_verified = email.is_some();
    }
    Ok(Identity {
        id,
        // A login is only a suggestion for a new username: one that is too
        // long or holds control characters is dropped, not stored.
        login: text(&provider.login_field)
            .filter(|l| l.len() <= 255 && !crate::text::has_control(l)),
        email_verified: email_verified && email.is_some(),
        email,
    })
}

async fn get_json(
    http: &ProviderHttp,
    provider: &Provider,
    url: &str,
    access_token: &str,
) -> Result<Value, ProviderError> {
    let response = http
        .0
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| failed(provider, format!("{url}: {e}")))?;
    if !response.status().is_success() {
        return Err(failed(
            provider,
            format!("{url}: status {}", response.status()),
        ));
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(failed(provider, format!("{url}: response too large")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| failed(provider, format!("{url}: {e}")))?;
    if body.len() > MAX_BODY {
        return Err(failed(provider, format!("{url}: response too large")));
    }
    serde_json::from_slice(&body).map_err(|e| failed(provider, format!("{url}: not JSON: {e}")))
}

/// GitHub's `/user/emails`: the address marked both primary and verified.
fn primary_verified_email(list: &Value) -> Option<String> {
    list.as_array()?
        .iter()
        .find(|entry| {
            entry["primary"] == Value::Bool(true) && entry["verified"] == Value::Bool(true)
        })
        .and_then(|entry| entry["email"].as_str())
        .and_then(|e| Email::parse(e).ok())
        .map(|e| e.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::primary_verified_email;
    use serde_json::json;

    #[test]
    fn only_a_primary_verified_email_is_taken() {
        let list = json!([
            {"email": "old@example.com", "primary": false, "verified": true},
            {"email": "main@example.com", "primary": true, "verified": true},
        ]);
        assert_eq!(
            primary_verified_email(&list).as_deref(),
            Some("main@example.com")
        );
        let unverified = json!([{"email": "main@example.com", "primary": true, "verified": false}]);
        assert_eq!(primary_verified_email(&unverified), None);
        assert_eq!(primary_verified_email(&json!({"message": "nope"})), None);
    }
}
