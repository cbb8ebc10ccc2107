//! The WebAuthn ceremonies (through webauthn-rs's `Passkey` API) and the
//! rules around them: names, how many passkeys an account may hold, the
//! user handle, and the security events and notices of each change,
//! written in the change's transaction.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{
    ActiveModelTrait as _, ConnectionTrait, DatabaseConnection, Set, TransactionTrait as _,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder,
};

use webauthn_rs_proto::ResidentKeyRequirement;

use super::challenge::{self, Purpose};
use super::entity as passkey;
use crate::accounts::entity as user;
use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::email;
use crate::error::{AppError, FormErrors};
use crate::security_log::{self, Event, EventKind};

/// More than this many is a sign of passkeys not being cleaned up.
pub const MAX_PER_USER: u64 = 20;
pub const MAX_NAME_LEN: usize = 64;

const ADDED_MAIL: &str = include_str!("../../templates/email/passkey_added.txt");
const REMOVED_MAIL: &str = include_str!("../../templates/email/passkey_removed.txt");

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// `public_url`'s host is an IP address and no `webauthn.rp_id` is set.
    #[error("passkeys are not available on this site")]
    Unavailable,
    /// Input a person can fix, by field.
    #[error("invalid input")]
    Invalid(FormErrors),
    /// The browser's answer did not prove anything: malformed, for an
    /// unknown, used or expired challenge, another origin, another
    /// account, a bad signature. One answer for all.
    #[error("the passkey was not accepted")]
    Refused,
    #[error(transparent)]
    Failed(#[from] AppError),
}

impl From<sea_orm::DbErr> for PasskeyError {
    fn from(err: sea_orm::DbErr) -> Self {
        PasskeyError::Failed(err.into())
    }
}

fn internal(what: &str, err: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Failed(AppError::Internal(anyhow::anyhow!("{what}: {err}")))
}

/// The relying party of this site, when it has one.
fn relying_party(config: &AppConfig) -> Result<Webauthn, PasskeyError> {
    let rp = config
        .relying_party
        .as_ref()
        .ok_or(PasskeyError::Unavailable)?;
    let origin = Url::parse(&config.public_url).map_err(|e| internal("public_url", e))?;
    WebauthnBuilder::new(&rp.id, &origin)
        .and_then(|builder| builder.rp_name(&rp.name).build())
        .map_err(|e| internal("webauthn relying party", e))
}

/// True when this site can offer passkeys.
pub fn available(config: &AppConfig) -> bool {
    config.relying_party.is_some()
}

/// The challenge a browser's answer was made for, from its
/// `clientDataJSON`.
fn challenge_of(client_data_json: &[u8]) -> Option<Vec<u8>> {
    let data: Value = serde_json::from_slice(client_data_json).ok()?;
    let challenge = data.get("challenge")?.as_str()?;
    URL_SAFE_NO_PAD.decode(challenge.trim_end_matches('=')).ok()
}

fn to_json(value: &impl Serialize) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| internal("serializing webauthn state", e))
}

fn from_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(text).map_err(|e| internal("reading webauthn state", e))
}

/// A name as typed, trimmed, or the reason it is refused.
pub fn parse_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || crate::text::has_control(name) {
        return Err("Give the passkey a name of 1 to 64 characters.");
    }
    Ok(name.to_owned())
}

/// A registration in progress: webauthn-rs's state and the user handle
/// the new credential is made for.
#[derive(Serialize, Deserialize)]
struct Registering {
    handle: Uuid,
    state: PasskeyRegistration,
}

/// Starts adding a passkey to `account`: the options for
/// `navigator.credentials.create`, asking for a discoverable credential
/// with user verification, and excluding the account's passkeys.
pub async fn begin_registration(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    account: &user::Model,
) -> Result<Value, PasskeyError> {
    let webauthn = relying_party(config)?;
    let existing = passkey::list_for_user(db, account.id).await?;
    if existing.len() as u64 >= MAX_PER_USER {
        return Err(PasskeyError::Invalid(FormErrors::single(
            "name",
            format!("You have {MAX_PER_USER} passkeys; remove some before adding more."),
        )));
    }
    // One handle per account, so an authenticator keeps one entry for it.
    let handle = existing
        .iter()
        .find_map(|p| Uuid::parse_str(&p.user_handle).ok())
        .unwrap_or_else(Uuid::new_v4);
    let exclude = existing
        .iter()
        .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
        .map(Into::into)
        .collect();
    let (mut options, state) = webauthn
        .start_passkey_registration(handle, &account.username, &account.username, Some(exclude))
        .map_err(|e| internal("starting a registration", e))?;
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        // Discoverable, so it can sign in without a username.
        selection.require_resident_key = true;
        selection.resident_key = Some(ResidentKeyRequirement::Required);
    }
    let state = to_json(&Registering { handle, state })?;
    let challenge = options.public_key.challenge.as_slice();
    challenge::store(
        db,
        now,
        challenge,
        Purpose::Register,
        Some(account.id),
        state,
    )
    .await?;
    serde_json::to_value(&options.public_key).map_err(|e| internal("registration options", e))
}

/// Finishes adding a passkey named `name` to `account` from the browser's
/// answer `credential`; records `passkey_added` and mails a notice.
pub async fn finish_registration(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    account: &user::Model,
    name: &str,
    credential: Value,
) -> Result<passkey::Model, PasskeyError> {
    let name =
        parse_name(name).map_err(|m| PasskeyError::Invalid(FormErrors::single("name", m)))?;
    let webauthn = relying_party(config)?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| PasskeyError::Refused)?;
    let challenge = challenge_of(credential.response.client_data_json.as_slice())
        .ok_or(PasskeyError::Refused)?;
    let stored = challenge::take(db, now, &challenge, Purpose::Register, Some(account.id))
        .await?
        .ok_or(PasskeyError::Refused)?;
    let Registering { handle, state } = from_json(&stored)?;
    let made = webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|_| PasskeyError::Refused)?;
    let details = Credential::from(made.clone());
    let transports = details
        .transports
        .iter()
        .flatten()
        .filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join(",");
    let txn = db.begin().await?;
    let inserted = passkey::ActiveModel {
        user_id: Set(account.id),
        name: Set(name.clone()),
        credential_id: Set(URL_SAFE_NO_PAD.encode(made.cred_id().as_slice())),
        user_handle: Set(handle.to_string()),
        credential: Set(to_json(&made)?),
        sign_count: Set(i64::from(details.counter)),
        backup_eligible: Set(details.backup_eligible),
        backup_state: Set(details.backup_state),
        transports: Set(transports.chars().take(128).collect()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let added = match inserted {
        Ok(added) => added,
        // The credential is registered already (to this or another account).
        Err(e) if crate::db::unique_violation(&e).is_some() => return Err(PasskeyError::Refused),
        Err(e) => return Err(e.into()),
    };
    let event =
        Event::new(account.id, EventKind::PasskeyAdded, client).detail(json!({ "name": name }));
    security_log::record(&txn, now, event).await;
    queue_notice(
        &txn,
        config,
        now,
        account,
        ADDED_MAIL,
        "a passkey was added",
        &name,
    )
    .await?;
    crate::db::changes::commit(txn).await?;
    Ok(added)
}

/// Mails `account` a notice of a change to its passkeys, in `conn`'s
/// transaction.
async fn queue_notice(
    conn: &impl ConnectionTrait,
    config: &AppConfig,
    now: OffsetDateTime,
    account: &user::Model,
    template: &str,
    what: &str,
    name: &str,
) -> Result<(), sea_orm::DbErr> {
    let body = template
        .replace("{username}", &account.username)
        .replace("{site}", &config.site_name)
        .replace("{name}", name)
        .replace(
            "{security}",
            &format!("{}/account/security", config.public_url),
        );
    let subject = format!("{}: {what}", config.site_name);
    email::queue(conn, now, &account.email, &subject, &body).await?;
    Ok(())
}

/// Renames `user_id`'s passkey `id`; false when there is no such passkey
/// of theirs.
pub async fn rename(
    db: &DatabaseConnection,
    user_id: i32,
    id: i32,
    name: &str,
) -> Result<bool, PasskeyError> {
    let name =
        parse_name(name).map_err(|m| PasskeyError::Invalid(FormErrors::single("name", m)))?;
    Ok(passkey::rename(db, user_id, id, &name).await?)
}

/// Removes `account`'s passkey `id`, by its holder or (with `staff`) by a
/// staff member, recording `passkey_removed` and mailing a notice; false
/// when there is no such passkey of theirs.
pub async fn remove(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    account: &user::Model,
    id: i32,
    staff: Option<&user::Model>,
) -> Result<bool, PasskeyError> {
    let Some(found) = passkey::find_for_owner(db, account.id, id).await? else {
        return Ok(false);
    };
    // The transaction starts with its write: on SQLite, one that read
    // first could not write after another connection had (the mail
    // worker's, say), and would fail instead of waiting its turn.
    let txn = db.begin().await?;
    if !passkey::delete(&txn, account.id, id).await? {
        return Ok(false);
    }
    let event = Event::new(account.id, EventKind::PasskeyRemoved, client);
    let event = match staff {
        Some(actor) => event
            .by(actor.id)
            .detail(json!({ "name": found.name, "by": actor.username })),
        None => event.detail(json!({ "name": found.name })),
    };
    security_log::record(&txn, now, event).await;
    let what = "a passkey was removed";
    queue_notice(&txn, config, now, account, REMOVED_MAIL, what, &found.name).await?;
    crate::db::changes::commit(txn).await?;
    Ok(true)
}

/// Starts a sign-in with any passkey of this site (a discoverable
/// credential): the options for `navigator.credentials.get`.
pub async fn begin_sign_in(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
) -> Result<Value, PasskeyError> {
    let webauthn = relying_party(config)?;
    let (options, state) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| internal("starting a sign-in", e))?;
    let challenge = options.public_key.challenge.as_slice();
    challenge::store(db, now, challenge, Purpose::SignIn, None, to_json(&state)?).await?;
    serde_json::to_value(&options.public_key).map_err(|e| internal("sign-in options", e))
}

/// Starts a check with one of `user_id`'s passkeys (the second factor of a
/// pending sign-in, or a confirmation): the options name its passkeys.
pub async fn begin_for_account(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    user_id: i32,
    purpose: Purpose,
) -> Result<Value, PasskeyError> {
    let webauthn = relying_party(config)?;
    let held = passkey::list_for_user(db, user_id).await?;
    if held.is_empty() {
        return Err(PasskeyError::Refused);
    }
    let keys = held
        .iter()
        .map(|p| from_json::<Passkey>(&p.credential))
        .collect::<Result<Vec<_>, _>>()?;
    let (options, state) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| internal("starting a passkey check", e))?;
    let challenge = options.public_key.challenge.as_slice();
    challenge::store(db, now, challenge, purpose, Some(user_id), to_json(&state)?).await?;
    serde_json::to_value(&options.public_key).map_err(|e| internal("passkey options", e))
}

/// The browser's answer to a sign-in or check, parsed, with the challenge
/// it was made for.
fn parse_assertion(credential: Value) -> Result<(PublicKeyCredential, Vec<u8>), PasskeyError> {
    let credential: PublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| PasskeyError::Refused)?;
    let challenge = challenge_of(credential.response.client_data_json.as_slice())
        .ok_or(PasskeyError::Refused)?;
    Ok((credential, challenge))
}

/// The stored passkey an answer names, if its user handle (when the
/// authenticator sent one) is the one stored with it.
async fn passkey_of(
    db: &DatabaseConnection,
    credential: &PublicKeyCredential,
) -> Result<passkey::Model, PasskeyError> {
    let id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
    let found = passkey::find_by_credential_id(db, &id)
        .await?
        .ok_or(PasskeyError::Refused)?;
    if let Some(handle) = credential.get_user_unique_id() {
        let stored = Uuid::parse_str(&found.user_handle).map_err(|e| internal("user handle", e))?;
        if !crate::crypto::constant_time_eq(handle, stored.as_bytes()) {
            return Err(PasskeyError::Refused);
        }
    }
    Ok(found)
}

/// Verifies a sign-in answer with a discoverable passkey; answers the
/// passkey used (its `user_id` is who signs in).
pub async fn finish_sign_in(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    credential: Value,
) -> Result<passkey::Model, PasskeyError> {
    let webauthn = relying_party(config)?;
    let (credential, challenge) = parse_assertion(credential)?;
    let stored = challenge::take(db, now, &challenge, Purpose::SignIn, None)
        .await?
        .ok_or(PasskeyError::Refused)?;
    let state: DiscoverableAuthentication = from_json(&stored)?;
    // A discoverable answer must carry the user handle.
    if credential.get_user_unique_id().is_none() {
        return Err(PasskeyError::Refused);
    }
    let used = passkey_of(db, &credential).await?;
    let key: Passkey = from_json(&used.credential)?;
    let result = webauthn
        .finish_discoverable_authentication(&credential, state, &[DiscoverableKey::from(&key)])
        .map_err(|_| PasskeyError::Refused)?;
    record_use(db, now, used, key, &result).await
}

/// Verifies an answer to [`begin_for_account`] for `user_id` and
/// `purpose`; answers the passkey used.
pub async fn finish_for_account(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    user_id: i32,
    purpose: Purpose,
    credential: Value,
) -> Result<passkey::Model, PasskeyError> {
    let webauthn = relying_party(config)?;
    let (credential, challenge) = parse_assertion(credential)?;
    let stored = challenge::take(db, now, &challenge, purpose, Some(user_id))
        .await?
        .ok_or(PasskeyError::Refused)?;
    let state: PasskeyAuthentication = from_json(&stored)?;
    let used = passkey_of(db, &credential).await?;
    if used.user_id != user_id {
        return Err(PasskeyError::Refused);
    }
    let key: Passkey = from_json(&used.credential)?;
    let result = webauthn
        .finish_passkey_authentication(&credential, &state)
        .map_err(|_| PasskeyError::Refused)?;
    record_use(db, now, used, key, &result).await
}

/// Stores the counter and backup state a use reported, and when.
async fn record_use(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    used: passkey::Model,
    mut key: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<passkey::Model, PasskeyError> {
    key.update_credential(result);
    let credential = to_json(&key)?;
    let count = i64::from(result.counter());
    passkey::record_use(db, &used, credential, count, result.backup_state(), now).await?;
    Ok(used)
}
