//! What an identity coming back from a provider means: sign someone in,
//! make an account, or link to the signed-in user; and unlinking.

use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, DatabaseConnection, QueryFilter as _, Set,
    TransactionTrait as _,
};
use time::OffsetDateTime;

use super::Provider;
use super::client::Identity;
use super::entity::{self as linked, IDENTITY_INDEX};
use crate::accounts::entity as user;
use crate::accounts::service::{self, ExternalEmail, RegisterError};
use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::db::delete_owned;
use crate::error::AppError;
use crate::security_log::{self, Event, EventKind};

pub enum LoginOutcome {
    /// A linked or newly created account to sign in.
    SignIn(Box<user::Model>),
    /// Unknown identity whose email belongs to an existing account: not
    /// linked automatically, since the provider's word that this person
    /// owns the address is not the account owner's consent.
    EmailInUse,
    /// Unknown identity and the provider shared no (verified) email.
    NoEmail,
    /// The linked account is deactivated.
    Inactive,
    /// Unknown identity with a free email: a new account may be made
    /// ([`sign_up`], after the sign-up limit is counted).
    NewAccount,
}

/// The account the identity signs in to, or why there is none.
pub async fn login(
    db: &DatabaseConnection,
    provider: &Provider,
    identity: &Identity,
) -> Result<LoginOutcome, AppError> {
    if let Some((_, owner)) = linked::find_identity(db, &provider.name, &identity.id).await? {
        return Ok(match owner {
            Some(user) if user.is_active => LoginOutcome::SignIn(Box::new(user)),
            _ => LoginOutcome::Inactive,
        });
    }
    let Some(email) = &identity.email else {
        return Ok(LoginOutcome::NoEmail);
    };
    if user::find_by_login(db, email).await?.is_some() {
        return Ok(LoginOutcome::EmailInUse);
    }
    Ok(LoginOutcome::NewAccount)
}

/// Makes an account for a new identity and links it.
/// An address the provider says is verified counts as verified; any other
/// gets a verification link (unless `verification_mail` is `None`).
pub async fn sign_up(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    provider: &Provider,
    identity: &Identity,
    verification_mail: Option<&AppConfig>,
) -> Result<LoginOutcome, AppError> {
    let Some(email) = &identity.email else {
        return Ok(LoginOutcome::NoEmail);
    };
    let hint = identity.login.as_deref().unwrap_or(email);
    let external = ExternalEmail {
        address: email,
        verified: identity.email_verified,
        verification_mail,
    };
    let user = match service::register_external(db, now, hint, external).await {
        Ok(user) => user,
        Err(RegisterError::Taken(_)) => return Ok(LoginOutcome::EmailInUse),
        Err(RegisterError::Invalid(_)) => return Ok(LoginOutcome::NoEmail),
        Err(other) => return Err(other.into()),
    };
    match insert_link(db, now, user.id, provider, identity).await? {
        LinkOutcome::Linked => Ok(LoginOutcome::SignIn(Box::new(user))),
        // Another request linked this identity a moment ago: let that win.
        _ => {
            user::delete_by_id(db, user.id).await?;
            Err(AppError::Conflict(
                "This account was linked by another request just now. Try signing in again.",
            ))
        }
    }
}

pub enum LinkOutcome {
    Linked,
    AlreadyYours,
    /// The identity belongs to another user; it is not moved.
    LinkedElsewhere,
}

/// Links the identity to `user_id`, and records it.
pub async fn link(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    client: &ClientInfo,
    user_id: i32,
    provider: &Provider,
    identity: &Identity,
) -> Result<LinkOutcome, AppError> {
    let outcome = match linked::find_identity(db, &provider.name, &identity.id).await? {
        Some((existing, _)) if existing.user_id == user_id => LinkOutcome::AlreadyYours,
        Some(_) => LinkOutcome::LinkedElsewhere,
        None => insert_link(db, now, user_id, provider, identity).await?,
    };
    if let LinkOutcome::Linked = outcome {
        let event = Event::new(user_id, EventKind::AccountLinked, client)
            .detail(serde_json::json!({ "provider": provider.name, "login": identity.login }));
        security_log::record(db, now, event).await;
    }
    Ok(outcome)
}

async fn insert_link(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    user_id: i32,
    provider: &Provider,
    identity: &Identity,
) -> Result<LinkOutcome, AppError> {
    let inserted = linked::ActiveModel {
        user_id: Set(user_id),
        provider: Set(provider.name.clone()),
        provider_user_id: Set(identity.id.clone()),
        login: Set(identity.login.clone()),
        email: Set(identity.email.clone()),
        linked_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(LinkOutcome::Linked),
        Err(err)
            if crate::db::unique_violation(&err).is_some_and(|m| m.contains(IDENTITY_INDEX)) =>
        {
            Ok(LinkOutcome::LinkedElsewhere)
        }
        Err(err) => Err(err.into()),
    }
}

pub enum UnlinkOutcome {
    Unlinked,
    NotLinked,
    /// It is the account's only way in (no password, no other link).
    LastWayIn,
}

/// Unlinks `provider` unless that leaves no way in: no password and no
/// other link to a provider still configured (a link to one removed from
/// the config signs nobody in). The transaction starts with a write that
/// changes nothing to the account's row: a row lock on PostgreSQL, the
/// write lock on SQLite, so two unlinks at once take turns.
pub async fn unlink(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    client: &ClientInfo,
    user_id: i32,
    provider: &str,
    configured: &[Provider],
) -> Result<UnlinkOutcome, AppError> {
    let txn = db.begin().await?;
    let Some(user) = user::lock_and_find(&txn, user_id).await? else {
        return Ok(UnlinkOutcome::NotLinked);
    };
    let links = linked::list_for_user(&txn, user.id).await?;
    if !links.iter().any(|l| l.provider == provider) {
        return Ok(UnlinkOutcome::NotLinked);
    }
    let other_ways_in = links
        .iter()
        .filter(|l| l.provider != provider)
        .filter(|l| configured.iter().any(|p| p.name == l.provider))
        .count();
    if user.password_hash.is_none() && other_ways_in == 0 {
        return Ok(UnlinkOutcome::LastWayIn);
    }
    delete_owned::<linked::Entity>(user.id)
        .filter(linked::Column::Provider.eq(provider))
        .exec(&txn)
        .await?;
    let event = Event::new(user.id, EventKind::AccountUnlinked, client)
        .detail(serde_json::json!({ "provider": provider }));
    security_log::record(&txn, now, event).await;
    crate::db::changes::commit(txn).await?;
    Ok(UnlinkOutcome::Unlinked)
}
