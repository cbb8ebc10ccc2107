//! What staff do to other accounts: (de)activate, end every session, set
//! roles, delete, email a password-reset link, remove a passkey, reset
//! two-factor authentication. Each action checks who may act on whom, makes the
//! change, and records it: in the account's log naming the staff member,
//! or for a deletion (which takes the account's own log with it) in the
//! acting staff member's log, naming the deleted account.

use sea_orm::{DatabaseConnection, TransactionTrait as _};
use serde_json::json;
use time::OffsetDateTime;

use crate::accounts::entity as user;
use crate::accounts::service::{self, begin_superuser_safe};
use crate::api_keys::entity as api_key;
use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::email::notice::{self, Notice};
use crate::error::AppError;
use crate::passkeys::service::{self as passkeys, PasskeyError};
use crate::security_log::{self, Event, EventKind};
use crate::sessions::store;

/// A staff member acting, from where, and when.
pub struct Acting<'a> {
    pub db: &'a DatabaseConnection,
    pub now: OffsetDateTime,
    pub client: &'a ClientInfo,
    pub actor: &'a user::Model,
}

/// Staff act on other accounts only, and only a superuser on staff or
/// superusers. Since nobody acts on themselves and only a superuser can
/// act on another superuser, at least one superuser always remains.
pub fn may_act_on(actor: &user::Model, target: &user::Model) -> Result<(), AppError> {
    if actor.id == target.id {
        return Err(AppError::Conflict(
            "You cannot do this to your own account from the admin pages.",
        ));
    }
    if target.counts_as_staff() && !actor.is_superuser {
        return Err(AppError::Forbidden(
            "Only a superuser can act on staff accounts.",
        ));
    }
    Ok(())
}

/// The account `id`, if `acting.actor` may act on it.
pub async fn target(acting: &Acting<'_>, id: i32) -> Result<user::Model, AppError> {
    let account = user::find_by_id(acting.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    may_act_on(acting.actor, &account)?;
    Ok(account)
}

impl Acting<'_> {
    async fn record(&self, user_id: i32, kind: EventKind, detail: serde_json::Value) {
        let event = Event::new(user_id, kind, self.client)
            .by(self.actor.id)
            .detail(detail);
        security_log::record(self.db, self.now, event).await;
    }
}

/// Turns an account on or off; turning it off ends its sessions (its API
/// keys stop with it, since they check `is_active`). Answers how many
/// sessions ended.
pub async fn set_active(
    acting: &Acting<'_>,
    account: &user::Model,
    active: bool,
) -> Result<u64, AppError> {
    service::set_active(acting.db, account.id, active, acting.now)
        .await
        .map_err(|e| e.saying("The last active superuser cannot be deactivated."))?;
    let ended = if active {
        0
    } else {
        store::delete_others(acting.db, account.id, None).await?
    };
    let kind = if active {
        EventKind::AccountReactivated
    } else {
        EventKind::AccountDeactivated
    };
    let detail = json!({ "by": acting.actor.username, "sessions_ended": ended });
    acting.record(account.id, kind, detail).await;
    Ok(ended)
}

/// Ends every session of an account and revokes its API keys, so no
/// credential an intruder made survives. Answers how many sessions ended
/// and how many keys were revoked.
pub async fn end_sessions(
    acting: &Acting<'_>,
    account: &user::Model,
) -> Result<(u64, u64), AppError> {
    let ended = store::delete_others(acting.db, account.id, None).await?;
    let keys = api_key::revoke_all(acting.db, account.id, acting.now).await?;
    let detail = json!({
        "by": acting.actor.username,
        "sessions_ended": ended,
        "api_keys_revoked": keys,
    });
    acting
        .record(account.id, EventKind::AllSessionsRevokedByStaff, detail)
        .await;
    Ok((ended, keys))
}

/// Sets the member and staff roles (superusers only; the caller's guard
/// says so).
pub async fn set_roles(
    acting: &Acting<'_>,
    account: &user::Model,
    is_member: bool,
    is_staff: bool,
) -> Result<(), AppError> {
    service::set_roles(acting.db, account.id, is_member, is_staff, acting.now).await?;
    let detail = json!({ "by": acting.actor.username, "member": is_member, "staff": is_staff });
    acting
        .record(account.id, EventKind::RolesChanged, detail)
        .await;
    Ok(())
}

/// Deletes an account with everything it owns (the foreign keys cascade),
/// unless it is the last active superuser, and records the deletion in
/// the actor's own log in the same transaction.
pub async fn delete(acting: &Acting<'_>, account: &user::Model) -> Result<(), AppError> {
    let txn = begin_superuser_safe(acting.db, account.id, |user| user.is_superuser)
        .await
        .map_err(|e| e.saying("The last superuser cannot be deleted."))?;
    user::delete_by_id(&txn, account.id).await?;
    let event = Event::new(acting.actor.id, EventKind::AccountDeleted, acting.client)
        .by(acting.actor.id)
        .detail(json!({ "account": account.username }));
    security_log::record(&txn, acting.now, event).await;
    crate::db::changes::commit(txn).await?;
    // The operator log keeps the fact too.
    tracing::info!(
        deleted = account.id,
        by = acting.actor.id,
        "account deleted by staff"
    );
    Ok(())
}

/// Emails `account` a password-reset link, recorded in its log naming the
/// staff member. Staff never see the link, and nothing changes until the
/// holder uses it; a deactivated account is refused (its links would not
/// work).
pub async fn send_password_reset(
    acting: &Acting<'_>,
    config: &AppConfig,
    account: &user::Model,
) -> Result<(), AppError> {
    if !account.is_active {
        return Err(AppError::Conflict(
            "The account is deactivated: reactivate it before sending a reset link.",
        ));
    }
    let txn = acting.db.begin().await?;
    crate::accounts::recovery::queue_reset_mail(&txn, config, acting.now, account).await?;
    let event = Event::new(
        account.id,
        EventKind::PasswordResetSentByStaff,
        acting.client,
    )
    .by(acting.actor.id)
    .detail(json!({ "by": acting.actor.username }));
    security_log::record(&txn, acting.now, event).await;
    crate::db::changes::commit(txn).await?;
    tracing::info!(
        user = account.id,
        by = acting.actor.id,
        "password-reset link sent by staff"
    );
    Ok(())
}

/// Removes `account`'s passkey `passkey_id`, recorded in its log naming
/// the staff member, and mailed to the holder; 404 when the account has
/// no such passkey.
pub async fn remove_passkey(
    acting: &Acting<'_>,
    config: &AppConfig,
    account: &user::Model,
    passkey_id: i32,
) -> Result<(), AppError> {
    let (db, now, client) = (acting.db, acting.now, acting.client);
    let staff = Some(acting.actor);
    match passkeys::remove(db, config, now, client, account, passkey_id, staff).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound),
        Err(PasskeyError::Failed(e)) => return Err(e),
        Err(_) => return Err(AppError::NotFound),
    }
    tracing::info!(
        user = account.id,
        by = acting.actor.id,
        "passkey removed by staff"
    );
    Ok(())
}

/// A superuser turns off `account`'s two-factor authentication (for a
/// holder who lost both the authenticator and the codes): the secret and
/// codes go, every session ends, the holder is emailed, and both logs
/// record it, all in one transaction.
pub async fn reset_two_factor(
    acting: &Acting<'_>,
    config: &AppConfig,
    account: &user::Model,
) -> Result<u64, AppError> {
    if !account.has_two_factor() {
        return Err(AppError::Conflict(
            "Two-factor authentication is already off for this account.",
        ));
    }
    let txn = acting.db.begin().await?;
    crate::two_factor::service::turn_off(&txn, account.id).await?;
    let ended = store::delete_others(&txn, account.id, None).await?;
    let by = json!({ "by": acting.actor.username, "sessions_ended": ended });
    let theirs = Event::new(account.id, EventKind::TwoFactorResetByStaff, acting.client)
        .by(acting.actor.id)
        .detail(by);
    security_log::record(&txn, acting.now, theirs).await;
    let ours = Event::new(
        acting.actor.id,
        EventKind::TwoFactorResetOfAccount,
        acting.client,
    )
    .by(acting.actor.id)
    .detail(json!({ "account": account.username }));
    security_log::record(&txn, acting.now, ours).await;
    let notice = Notice::TwoFactorResetByStaff;
    notice::queue(
        &txn,
        config,
        acting.now,
        &account.email,
        &account.username,
        notice,
    )
    .await?;
    crate::db::changes::commit(txn).await?;
    tracing::info!(
        user = account.id,
        by = acting.actor.id,
        "two-factor authentication reset by a superuser"
    );
    Ok(ended)
}
