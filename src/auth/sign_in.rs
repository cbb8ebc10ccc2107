//! The one sign-in flow. Every way in (the sign-in form, a passkey, the
//! token endpoint, the second step at `/login/2fa` with a code or a
//! passkey, an OAuth provider, and a new account's first session) goes through these functions, which apply the
//! rate limits and lockout, check the second factor, create the session,
//! update the last sign-in and record the events, and answer with an
//! [`Outcome`] that the entry point only translates into a redirect, a
//! page or JSON.
//!
//! Limits: failures count against the account (or, for an unknown login,
//! the login as typed) and the client address; while either is over its
//! limit, no password or code is even verified. This instance's turn on
//! those counters is held from the check to the count, so a parallel burst
//! cannot pass the check before the first failure counts. An unknown login
//! costs a verification against a dummy hash, so timing does not tell.

use rocket::http::CookieJar;
use serde_json::{Value, json};

use super::client::ClientInfo;
use super::device::{self, Device};
use super::tokens::IssuedToken;
use super::{AppState, CurrentUser, pending, session, token_grants};
use crate::accounts::entity as user;
use crate::accounts::password::Password;
use crate::accounts::service::{self as accounts, RegisterError, Registration, Roles};
use crate::api_keys::scope::Scopes;
use crate::config::limit::Limit;
use crate::config::{AppConfig, EmailVerification};
use crate::error::{AppError, FormErrors};
use crate::oauth::Provider;
use crate::oauth::client::Identity;
use crate::oauth::service::{self as oauth, LoginOutcome};
use crate::passkeys::challenge;
use crate::passkeys::service::{self as passkeys, PasskeyError};
use crate::rate_limit::Counter;
use crate::security_log::{self, Event, EventKind};
use crate::two_factor::service as two_factor;

/// Who will hold the session a sign-in makes.
pub enum Holder<'a> {
    /// A browser: a session cookie (persistent with `remember`), and
    /// `next`, the local path to go to afterwards.
    Browser {
        cookies: &'a CookieJar<'a>,
        remember: bool,
        next: Option<&'a str>,
    },
    /// An API client: a bearer token with these scopes, and a refresh
    /// token.
    Api { scopes: Scopes },
    /// A same-site single-page app: its session's token in cookies (see
    /// `spa`); like an API client, it sends the second factor along.
    App { cookies: &'a CookieJar<'a> },
}

/// What a sign-in attempt came to.
pub enum Outcome {
    SignedIn(Box<SignedIn>),
    /// The first factor was right; a browser now holds a pending sign-in
    /// for `/login/2fa`, an API client must send the code with it.
    NeedsSecondFactor,
    Refused(Refusal),
}

/// What a deactivated account is told once it gave the right password.
pub const DEACTIVATED: &str = "This account has been deactivated by staff. Contact the site's administrators to have it reactivated.";

/// Why a sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong login or password, with no hint of which.
    BadCredentials,
    /// Too many failures for this account or address: nothing was checked.
    Limited { retry_after: u64 },
    /// The second factor is wrong or was already used.
    WrongCode,
    /// Too many wrong codes for this pending sign-in: start again.
    TooManyCodes,
    /// No pending sign-in: it expired, or never began.
    Expired,
    /// The pending sign-in's account was deactivated or lost its 2FA.
    StartAgain,
    /// A provider's new identity whose email belongs to an account.
    EmailInUse,
    /// A provider's new identity without a (verified) email.
    NoEmail,
    /// The account is deactivated.
    Inactive,
    /// With `email_verification = "mandatory"`: the account's address is
    /// not verified yet. Told only to whoever proved who they are.
    Unverified { user_id: i32 },
}

/// What an unverified account is told in `mandatory` mode.
pub const UNVERIFIED: &str =
    "Confirm your email address first: open the link we sent you. It can be sent again.";

/// True when `user` may not sign in until its address is verified.
fn awaits_verification(app: &AppState<'_>, user: &user::Model) -> bool {
    app.config.email_verification == EmailVerification::Mandatory
        && user.email_verified_at.is_none()
}

/// The setting as the sign-up services take it: the config when a
/// verification link is to be sent.
fn verification_mail<'c>(app: &AppState<'c>) -> Option<&'c AppConfig> {
    (app.config.email_verification != EmailVerification::Off).then_some(app.config)
}

pub struct SignedIn {
    pub user: user::Model,
    /// For a browser: the greeting, which tells of failed attempts on the
    /// account since the previous sign-in.
    pub greeting: String,
    /// For a browser: where it asked to go, as given (not yet checked).
    pub next: Option<String>,
    /// For an API client or app: the bearer token.
    pub token: Option<IssuedToken>,
}

/// A username or email and a password: the sign-in form (`method`
/// "password") and the token endpoint, which may send the second factor
/// along (`otp`).
pub async fn with_password(
    app: &AppState<'_>,
    client: &ClientInfo,
    holder: Holder<'_>,
    login: &str,
    password: &str,
    otp: Option<&str>,
    method: &str,
) -> Result<Outcome, AppError> {
    let device = match &holder {
        Holder::Browser { cookies, .. } | Holder::App { cookies } => {
            device::known(cookies, app.config)
        }
        Holder::Api { .. } => None,
    };
    let user = match check_password(app, client, login, password, device.as_ref()).await? {
        PasswordCheck::Verified(user) => user,
        PasswordCheck::Refused(refusal, account) => {
            if let Some(account) = account {
                let event = Event::new(account.id, EventKind::SignInFailed, client)
                    .detail(json!({ "method": method }));
                security_log::record(app.db, app.clock.now(), event).await;
            }
            return Ok(Outcome::Refused(refusal));
        }
    };
    if !user.has_two_factor() {
        return finish(app, client, holder, &user, method).await;
    }
    let Some(code) = otp else {
        if let Holder::Browser {
            cookies,
            remember,
            next,
        } = holder
        {
            let now = app.clock.now();
            pending::begin(cookies, app.config, now, user.id, remember, next, method);
        }
        return Ok(Outcome::NeedsSecondFactor);
    };
    let failed = format!("{method}, second factor");
    let proof = Proof::Code(code);
    match second_factor(app, client, &user, device.as_ref(), proof, &failed).await? {
        FactorCheck::Refused(refusal) => Ok(Outcome::Refused(refusal)),
        FactorCheck::Accepted(_) => finish(app, client, holder, &user, method).await,
    }
}

/// The second step at `/login/2fa`: the code for the browser's pending
/// sign-in. Every code counts before it is checked (parallel guesses each
/// see the ones before them, and a saved copy of the cookie brings no
/// more); five wrong ones end the pending sign-in.
pub async fn second_step<'a>(
    app: &AppState<'_>,
    client: &ClientInfo,
    cookies: &'a CookieJar<'a>,
    code: &str,
) -> Result<Outcome, AppError> {
    second_step_with(app, client, cookies, Proof::Code(code)).await
}

/// The second step at `/login/2fa` with a passkey of the pending sign-in's
/// account instead of a code, under the same counters.
pub async fn second_step_passkey<'a>(
    app: &AppState<'_>,
    client: &ClientInfo,
    cookies: &'a CookieJar<'a>,
    credential: Value,
) -> Result<Outcome, AppError> {
    second_step_with(app, client, cookies, Proof::Passkey(credential)).await
}

/// The options for a passkey check at `/login/2fa`, for the account of
/// the browser's pending sign-in; None without one (or without passkeys).
pub async fn second_step_passkey_options(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Result<Option<Value>, AppError> {
    let now = app.clock.now();
    let Some(waiting) = pending::current(cookies, app.config, now) else {
        return Ok(None);
    };
    let purpose = challenge::Purpose::SecondFactor;
    match passkeys::begin_for_account(app.db, app.config, now, waiting.user_id, purpose).await {
        Ok(options) => Ok(Some(options)),
        Err(PasskeyError::Failed(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// A second factor as presented.
enum Proof<'a> {
    /// A TOTP or recovery code.
    Code(&'a str),
    /// A browser's answer to a passkey check.
    Passkey(Value),
}

async fn second_step_with<'a>(
    app: &AppState<'_>,
    client: &ClientInfo,
    cookies: &'a CookieJar<'a>,
    proof: Proof<'_>,
) -> Result<Outcome, AppError> {
    let now = app.clock.now();
    let Some(waiting) = pending::current(cookies, app.config, now) else {
        return Ok(Outcome::Refused(Refusal::Expired));
    };
    let attempts = [app.limiter.attempts(
        "two_factor:pending",
        &waiting.id,
        app.limiter.settings().two_factor_per_sign_in,
        waiting.started_at(),
        pending::LIFETIME.whole_seconds().unsigned_abs() as u32,
    )];
    if app.limiter.count_and_check(now, &attempts).await?.is_some() {
        pending::clear(cookies, app.config);
        return Ok(Outcome::Refused(Refusal::TooManyCodes));
    }
    let account = user::find_by_id(app.db, waiting.user_id)
        .await?
        .filter(|u| u.is_active && u.has_two_factor());
    let Some(account) = account else {
        pending::clear(cookies, app.config);
        return Ok(Outcome::Refused(Refusal::StartAgain));
    };
    let device = device::known(cookies, app.config);
    let factor = match second_factor(
        app,
        client,
        &account,
        device.as_ref(),
        proof,
        "second factor",
    )
    .await?
    {
        FactorCheck::Accepted(factor) => factor,
        FactorCheck::Refused(Refusal::WrongCode)
            if app.limiter.check(now, &attempts).await?.is_some() =>
        {
            pending::clear(cookies, app.config);
            return Ok(Outcome::Refused(Refusal::TooManyCodes));
        }
        FactorCheck::Refused(refusal) => return Ok(Outcome::Refused(refusal)),
    };
    pending::clear(cookies, app.config);
    let method = format!("{} + {factor}", waiting.method);
    let holder = Holder::Browser {
        cookies,
        remember: waiting.remember,
        next: waiting.next.as_deref(),
    };
    finish(app, client, holder, &account, &method).await
}

/// What a sign-up came to.
pub enum NewAccount {
    /// Made and signed in.
    Created(Box<user::Model>),
    /// Made, not signed in: in `mandatory` mode the address comes first.
    CheckEmail(Box<user::Model>),
    /// Input a person can fix, by field.
    Invalid(FormErrors),
    /// The username or email belongs to someone else.
    Taken(FormErrors),
}

/// A new account from the sign-up form: counted against the address's
/// sign-up limit, registered with the full policy, sent a link to verify
/// its address (in the account's transaction, unless verification is
/// off), and signed in (unless verification is mandatory).
pub async fn with_new_account(
    app: &AppState<'_>,
    client: &ClientInfo,
    cookies: &CookieJar<'_>,
    registration: Registration<'_>,
) -> Result<NewAccount, AppError> {
    count_sign_up(app, client).await?;
    let now = app.clock.now();
    let roles = Roles::default();
    let registration = Registration {
        verification_mail: verification_mail(app),
        ..registration
    };
    let user = match accounts::register(app.db, app.hasher, now, registration, roles).await {
        Ok(user) => user,
        Err(RegisterError::Invalid(errors)) => return Ok(NewAccount::Invalid(errors)),
        Err(RegisterError::Taken(errors)) => return Ok(NewAccount::Taken(errors)),
        Err(other) => return Err(other.into()),
    };
    let holder = Holder::Browser {
        cookies,
        remember: false,
        next: None,
    };
    if awaits_verification(app, &user) {
        return Ok(NewAccount::CheckEmail(Box::new(user)));
    }
    finish(app, client, holder, &user, "sign-up").await?;
    Ok(NewAccount::Created(Box::new(user)))
}

/// An identity an OAuth provider vouched for: its linked account, or a new
/// one (a sign-up, counted as the sign-up form's are).
pub async fn with_provider<'a>(
    app: &AppState<'_>,
    client: &ClientInfo,
    cookies: &'a CookieJar<'a>,
    provider: &Provider,
    identity: &Identity,
    next: Option<&'a str>,
) -> Result<Outcome, AppError> {
    let user = match oauth::login(app.db, provider, identity).await? {
        LoginOutcome::SignIn(user) => *user,
        LoginOutcome::NewAccount => {
            count_sign_up(app, client).await?;
            let mail = verification_mail(app);
            match oauth::sign_up(app.db, app.clock.now(), provider, identity, mail).await? {
                LoginOutcome::SignIn(user) => *user,
                other => return Ok(Outcome::Refused(refusal_of(other))),
            }
        }
        other => return Ok(Outcome::Refused(refusal_of(other))),
    };
    if awaits_verification(app, &user) {
        let user_id = user.id;
        return Ok(Outcome::Refused(Refusal::Unverified { user_id }));
    }
    let holder = Holder::Browser {
        cookies,
        remember: false,
        next,
    };
    if user.has_two_factor() {
        let now = app.clock.now();
        pending::begin(
            cookies,
            app.config,
            now,
            user.id,
            false,
            next,
            &provider.name,
        );
        return Ok(Outcome::NeedsSecondFactor);
    }
    finish(app, client, holder, &user, &provider.name).await
}

/// Passkey challenges one address may ask for before signing in: each is
/// a stored row until it is answered or swept, so a flood of requests
/// must not grow the table unchecked. A sign-in page asks for one.
const PASSKEY_CHALLENGES_PER_IP: Limit = Limit::new(60, 60);

/// Counts a request for a sign-in passkey challenge against the client's
/// address; over the limit it is refused (429).
pub async fn count_passkey_challenge(
    app: &AppState<'_>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let Some(ip) = client.ip_string() else {
        return Ok(());
    };
    let counter = [app
        .limiter
        .counter("passkey_challenge:ip", &ip, PASSKEY_CHALLENGES_PER_IP)];
    match app
        .limiter
        .count_and_check(app.clock.now(), &counter)
        .await?
    {
        Some(retry_after) => Err(AppError::TooManyRequests { retry_after }),
        None => Ok(()),
    }
}

/// The method a passkey sign-in records, alone or as a second factor.
const PASSKEY: &str = "passkey";

/// A passkey on its own, from the sign-in page. It was made with user
/// verification, so it proves both factors: there is no second step
/// whatever the account's 2FA. Refused answers count against the address's
/// failed-sign-in limit, as wrong passwords do, and nothing is verified
/// while it is over.
pub async fn with_passkey<'a>(
    app: &AppState<'_>,
    client: &ClientInfo,
    cookies: &'a CookieJar<'a>,
    credential: Value,
    next: Option<&'a str>,
) -> Result<Outcome, AppError> {
    let limits = app.limiter.settings();
    let counters: Vec<Counter> = client
        .ip_string()
        .map(|ip| {
            app.limiter
                .counter("sign_in:ip", &ip, limits.sign_in_per_ip)
        })
        .into_iter()
        .collect();
    let _turn = app.limiter.take_turn(&counters).await;
    let now = app.clock.now();
    if let Some(retry_after) = app.limiter.check(now, &counters).await? {
        return Ok(Outcome::Refused(Refusal::Limited { retry_after }));
    }
    let used = match passkeys::finish_sign_in(app.db, app.config, now, credential).await {
        Ok(used) => used,
        Err(PasskeyError::Failed(e)) => return Err(e),
        Err(PasskeyError::Unavailable) => return Err(AppError::NotFound),
        Err(PasskeyError::Refused | PasskeyError::Invalid(_)) => {
            app.limiter.hit(now, &counters).await?;
            return Ok(Outcome::Refused(Refusal::BadCredentials));
        }
    };
    let account = user::find_by_id(app.db, used.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !account.is_active {
        return Ok(Outcome::Refused(Refusal::Inactive));
    }
    let holder = Holder::Browser {
        cookies,
        remember: false,
        next,
    };
    finish(app, client, holder, &account, PASSKEY).await
}

fn refusal_of(outcome: LoginOutcome) -> Refusal {
    match outcome {
        LoginOutcome::EmailInUse => Refusal::EmailInUse,
        LoginOutcome::NoEmail => Refusal::NoEmail,
        _ => Refusal::Inactive,
    }
}

/// Completes a sign-in, whatever proved who the person is: a new session
/// (its cookie, or its bearer token), `last_login_at`, and a `sign_in`
/// event. A new account's first session starts here too.
pub async fn finish(
    app: &AppState<'_>,
    client: &ClientInfo,
    holder: Holder<'_>,
    user: &user::Model,
    method: &str,
) -> Result<Outcome, AppError> {
    let now = app.clock.now();
    let (token, next, detail) = match holder {
        Holder::Browser {
            cookies,
            remember,
            next,
        } => {
            session::sign_in(app, cookies, client, user, remember).await?;
            device::remember(cookies, app.config, now, user.id);
            (None, next.map(str::to_owned), json!({ "method": method }))
        }
        Holder::Api { scopes } => {
            let token = token_grants::start_for_client(app, client, user, scopes).await?;
            let detail = json!({ "method": method, "scope": scopes.to_string() });
            (Some(token), None, detail)
        }
        Holder::App { cookies } => {
            let token = token_grants::start_in_cookies(app, cookies, client, user).await?;
            device::remember(cookies, app.config, now, user.id);
            (Some(token), None, json!({ "method": method }))
        }
    };
    accounts::record_login(app.db, user.id, now).await?;
    let event = Event::new(user.id, EventKind::SignIn, client).detail(detail);
    security_log::record(app.db, now, event).await;
    let greeting = match token {
        Some(_) => String::new(),
        None => greeting(app, user).await?,
    };
    Ok(Outcome::SignedIn(Box::new(SignedIn {
        user: user.clone(),
        greeting,
        next,
        token,
    })))
}

/// "Signed in as ...", and failed attempts on the account since the
/// previous sign-in.
async fn greeting(app: &AppState<'_>, user: &user::Model) -> Result<String, AppError> {
    let since = user.last_login_at.unwrap_or(user.created_at);
    let failures = security_log::entity::recent_of_kind(
        app.db,
        user.id,
        EventKind::SignInFailed.as_str(),
        since,
    )
    .await?;
    let mut greeting = format!("Signed in as {}.", user.username);
    if let Some(latest) = failures.first() {
        let from = latest.ip.as_deref().unwrap_or("an unknown address");
        let attempts = match failures.len() {
            1 => "1 failed attempt".to_owned(),
            n => format!("{n} failed attempts"),
        };
        greeting.push_str(&format!(
            " Since your last sign-in there were {attempts} to sign in to your account, the latest from {from}. If that was not you, see your security log."
        ));
    }
    Ok(greeting)
}

enum PasswordCheck {
    Verified(user::Model),
    /// With the existing account the login named, for the security log.
    Refused(Refusal, Option<user::Model>),
}

/// The failed-sign-in counters of an account (or typed login) and address.
/// A browser whose device cookie names the account counts against its
/// device instead of the account, with the same limit.
fn sign_in_counters(
    app: &AppState<'_>,
    client: &ClientInfo,
    subject: &str,
    device: Option<&str>,
) -> Vec<Counter> {
    let limits = app.limiter.settings();
    let (bucket, subject) = match device {
        Some(id) => ("sign_in:device", id),
        None => ("sign_in:account", subject),
    };
    let mut counters = vec![
        app.limiter
            .counter(bucket, subject, limits.sign_in_per_account),
    ];
    if let Some(ip) = client.ip_string() {
        counters.push(
            app.limiter
                .counter("sign_in:ip", &ip, limits.sign_in_per_ip),
        );
    }
    counters
}

fn account_counters(
    app: &AppState<'_>,
    client: &ClientInfo,
    account: &user::Model,
    device: Option<&Device>,
) -> Vec<Counter> {
    sign_in_counters(
        app,
        client,
        &format!("user:{}", account.id),
        device_of(device, account),
    )
}

/// The id of `device` if it vouches for `account`.
fn device_of<'d>(device: Option<&'d Device>, account: &user::Model) -> Option<&'d str> {
    device
        .filter(|device| device.user_id == account.id)
        .map(|device| device.id.as_str())
}

/// Checks a login and password under this instance's turn and the limits,
/// and rehashes a password stored with older parameters.
async fn check_password(
    app: &AppState<'_>,
    client: &ClientInfo,
    login: &str,
    password: &str,
    device: Option<&Device>,
) -> Result<PasswordCheck, AppError> {
    let now = app.clock.now();
    let login = login.trim();
    let user = if login.is_empty() || login.len() > 254 {
        None
    } else {
        user::find_by_login(app.db, login).await?
    };
    let subject = match &user {
        Some(user) => format!("user:{}", user.id),
        None => format!("login:{}", user::email_key(login)),
    };
    let device = user.as_ref().and_then(|user| device_of(device, user));
    let counters = sign_in_counters(app, client, &subject, device);
    let _turn = app.limiter.take_turn(&counters).await;
    if let Some(retry_after) = app.limiter.check(now, &counters).await? {
        return Ok(PasswordCheck::Refused(
            Refusal::Limited { retry_after },
            None,
        ));
    }
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = match Password::for_sign_in(password) {
        Some(password) => app
            .hasher
            .verify(&password, stored.as_deref())
            .await?
            .then_some(password),
        None => None,
    };
    let (Some(password), Some(user)) = (verified, user.clone()) else {
        app.limiter.hit(now, &counters).await?;
        return Ok(PasswordCheck::Refused(Refusal::BadCredentials, user));
    };
    if !user.is_active {
        // Told only to whoever knows the password; not a failed attempt.
        return Ok(PasswordCheck::Refused(Refusal::Inactive, None));
    }
    if awaits_verification(app, &user) {
        let user_id = user.id;
        return Ok(PasswordCheck::Refused(
            Refusal::Unverified { user_id },
            None,
        ));
    }
    if stored.is_some_and(|hash| app.hasher.needs_rehash(&hash)) {
        let rehashed = app.hasher.hash(&password).await?;
        accounts::set_password_hash(app.db, user.id, rehashed, now).await?;
    }
    Ok(PasswordCheck::Verified(user))
}

enum FactorCheck {
    /// How, as the sign-in's method says it.
    Accepted(String),
    Refused(Refusal),
}

/// Checks a second factor (the password already was) under this
/// instance's turn on the account's and the address's sign-in counters,
/// refused while either is over its limit, so neither many pending
/// sign-ins nor parallel requests bring more guesses. A wrong code counts
/// against the same limits as a wrong password and is recorded as a
/// failed sign-in (`failed_method`).
async fn second_factor(
    app: &AppState<'_>,
    client: &ClientInfo,
    account: &user::Model,
    device: Option<&Device>,
    proof: Proof<'_>,
    failed_method: &str,
) -> Result<FactorCheck, AppError> {
    let counters = account_counters(app, client, account, device);
    let _turn = app.limiter.take_turn(&counters).await;
    let now = app.clock.now();
    if let Some(retry_after) = app.limiter.check(now, &counters).await? {
        return Ok(FactorCheck::Refused(Refusal::Limited { retry_after }));
    }
    let accepted = match proof {
        Proof::Code(code) => two_factor::verify(app.db, app.config, now, client, account, code)
            .await?
            .map(|factor| factor.describe().to_owned()),
        Proof::Passkey(credential) => {
            let purpose = challenge::Purpose::SecondFactor;
            match passkeys::finish_for_account(
                app.db, app.config, now, account.id, purpose, credential,
            )
            .await
            {
                Ok(_) => Some(PASSKEY.to_owned()),
                Err(PasskeyError::Failed(e)) => return Err(e),
                Err(_) => None,
            }
        }
    };
    if let Some(factor) = accepted {
        return Ok(FactorCheck::Accepted(factor));
    }
    app.limiter.hit(now, &counters).await?;
    let event = Event::new(account.id, EventKind::SignInFailed, client)
        .detail(json!({ "method": failed_method }));
    security_log::record(app.db, now, event).await;
    Ok(FactorCheck::Refused(Refusal::WrongCode))
}

/// Counts a failure that came after the password (a wrong code when
/// turning two-factor authentication off) against the same limits as a
/// wrong password.
pub async fn count_sign_in_failure(
    app: &AppState<'_>,
    client: &ClientInfo,
    account: &user::Model,
) -> Result<(), AppError> {
    let counters = account_counters(app, client, account, None);
    app.limiter.hit(app.clock.now(), &counters).await?;
    Ok(())
}

/// Checks a signed-in user's password before a sensitive change (a new
/// password, ending sessions, two-factor settings). Its failures count
/// against the session it is typed in (and the address), not the account:
/// failed sign-ins that others send cannot lock the owner out of the very
/// steps that recover the account, and guesses from a stolen session lock
/// only that session. Without a session (a caller by API key), the
/// account's counters apply.
pub async fn confirm_password(
    app: &AppState<'_>,
    client: &ClientInfo,
    current: &CurrentUser,
    input: &str,
) -> Result<bool, AppError> {
    let account = &current.user;
    let counters = confirm_counters(app, client, current);
    let _turn = app.limiter.take_turn(&counters).await;
    let now = app.clock.now();
    if let Some(retry_after) = app.limiter.check(now, &counters).await? {
        return Err(AppError::TooManyRequests { retry_after });
    }
    let matched = match Password::for_sign_in(input) {
        Some(password) => {
            app.hasher
                .verify(&password, account.password_hash.as_deref())
                .await?
        }
        None => false,
    };
    if matched {
        // A right password is a confirmation too (SPEC: Reauthentication).
        super::reauth::mark_confirmed(app, current).await?;
    } else {
        app.limiter.hit(now, &counters).await?;
    }
    Ok(matched)
}

/// The counters a confirmation inside a signed-in session counts
/// against: the session (and the address); the account's without one.
pub fn confirm_counters(
    app: &AppState<'_>,
    client: &ClientInfo,
    current: &CurrentUser,
) -> Vec<Counter> {
    match current.session() {
        Some(session) => {
            let limits = app.limiter.settings();
            let subject = format!("session:{}", session.id);
            let mut counters =
                vec![
                    app.limiter
                        .counter("confirm:session", &subject, limits.sign_in_per_account),
                ];
            if let Some(ip) = client.ip_string() {
                counters.push(
                    app.limiter
                        .counter("sign_in:ip", &ip, limits.sign_in_per_ip),
                );
            }
            counters
        }
        None => account_counters(app, client, &current.user, None),
    }
}

/// Counts a sign-up attempt against the client's address, through the form
/// or a provider; over the limit it is refused (429). Every attempt counts,
/// so sign-up cannot be used to probe for taken names at speed either.
pub async fn count_sign_up(app: &AppState<'_>, client: &ClientInfo) -> Result<(), AppError> {
    let Some(ip) = client.ip_string() else {
        return Ok(());
    };
    let counter = [app
        .limiter
        .counter("sign_up:ip", &ip, app.limiter.settings().sign_up_per_ip)];
    match app
        .limiter
        .count_and_check(app.clock.now(), &counter)
        .await?
    {
        Some(retry_after) => Err(AppError::TooManyRequests { retry_after }),
        None => Ok(()),
    }
}
