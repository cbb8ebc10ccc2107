//! Turning two-factor authentication on and off, recovery code sets, and
//! checking a second factor (for the sign-in step, disabling, and the
//! token endpoint's `otp`). Every acceptance is a conditional UPDATE, so a
//! TOTP step or a recovery code is accepted once even under concurrency.
//! Each change, and each recovery code used, is recorded in the security
//! log here.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait as _,
    QueryFilter as _, Set, TransactionTrait as _,
};
use time::OffsetDateTime;

use super::entity as recovery_code;
use super::recovery;
use super::totp::{self, STEP_SECONDS, TotpSecret};
use crate::accounts::entity as user;
use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::db::{delete_owned, update_owned};
use crate::email::notice::{self, Notice};
use crate::security_log::{self, Event, EventKind};

/// What a second factor was proved with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    Authenticator,
    RecoveryCode,
}

impl SecondFactor {
    pub fn describe(self) -> &'static str {
        match self {
            SecondFactor::Authenticator => "authenticator app",
            SecondFactor::RecoveryCode => "recovery code",
        }
    }
}

/// Longer input is not a code of either kind and is not looked at.
const MAX_CODE_LEN: usize = 32;

fn unix(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0)
}

/// The TOTP step `now` falls in.
pub fn current_step(now: OffsetDateTime) -> u64 {
    unix(now) / STEP_SECONDS
}

/// Checks `code` as a TOTP code, then as a recovery code, and uses it up
/// (a recovery code used is recorded). None: wrong, already used, or 2FA
/// is not on.
pub async fn verify(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    account: &user::Model,
    code: &str,
) -> Result<Option<SecondFactor>, DbErr> {
    let code = code.trim();
    if code.is_empty() || code.len() > MAX_CODE_LEN || !account.has_two_factor() {
        return Ok(None);
    }
    let secret = account
        .totp_secret
        .as_deref()
        .and_then(|sealed| totp::open(config, account.id, sealed));
    if let Some(step) = secret.and_then(|s| s.matching_step(code, unix(now))) {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        return Ok(user::claim_totp_step(db, account.id, step)
            .await?
            .then_some(SecondFactor::Authenticator));
    }
    let Some(normalized) = recovery::normalize(code) else {
        return Ok(None);
    };
    let txn = db.begin().await?;
    let used = update_owned::<recovery_code::Entity>(account.id)
        .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
        .filter(recovery_code::Column::CodeHash.eq(recovery::hash(config, &normalized)))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if used.rows_affected != 1 {
        return Ok(None);
    }
    let event = Event::new(account.id, EventKind::RecoveryCodeUsed, client);
    security_log::record(&txn, now, event).await;
    let left = recovery_code::count_unused(&txn, account.id).await?;
    let notice = Notice::RecoveryCodeUsed { left };
    notice::queue(&txn, config, now, &account.email, &account.username, notice).await?;
    crate::db::changes::commit(txn).await?;
    Ok(Some(SecondFactor::RecoveryCode))
}

/// Makes a new pending secret for setup, replacing any earlier one.
pub async fn begin_setup(
    db: &DatabaseConnection,
    config: &AppConfig,
    user_id: i32,
) -> Result<TotpSecret, DbErr> {
    let secret = TotpSecret::generate();
    user::set_pending_totp_secret(db, user_id, totp::seal(config, user_id, &secret)).await?;
    Ok(secret)
}

pub fn pending_secret(config: &AppConfig, account: &user::Model) -> Option<TotpSecret> {
    totp::open(config, account.id, account.totp_pending_secret.as_deref()?)
}

pub enum Confirmation {
    /// On, with the first set of recovery codes (shown once).
    Enabled(Vec<String>),
    WrongCode,
    /// No setup is pending (it expired, or 2FA is already on).
    NothingPending,
}

/// Turns 2FA on if `code` is valid for the pending secret.
pub async fn confirm(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    account: &user::Model,
    code: &str,
) -> Result<Confirmation, DbErr> {
    let (Some(sealed), None) = (&account.totp_pending_secret, &account.totp_enabled_at) else {
        return Ok(Confirmation::NothingPending);
    };
    let Some(secret) = totp::open(config, account.id, sealed) else {
        return Ok(Confirmation::NothingPending);
    };
    let Some(step) = secret.matching_step(code, unix(now)) else {
        return Ok(Confirmation::WrongCode);
    };
    let txn = db.begin().await?;
    // Only the pending secret that was checked becomes the secret.
    let step = i64::try_from(step).unwrap_or(0);
    let enabled = user::enable_totp(&txn, account.id, sealed, step, now).await?;
    if !enabled {
        return Ok(Confirmation::NothingPending);
    }
    let codes = replace_recovery_codes(&txn, config, account.id, now).await?;
    let event = Event::new(account.id, EventKind::TwoFactorEnabled, client);
    security_log::record(&txn, now, event).await;
    let notice = Notice::TwoFactorEnabled;
    notice::queue(&txn, config, now, &account.email, &account.username, notice).await?;
    crate::db::changes::commit(txn).await?;
    Ok(Confirmation::Enabled(codes))
}

/// A new set of recovery codes; the old set stops working.
pub async fn regenerate_recovery_codes(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    user_id: i32,
) -> Result<Vec<String>, DbErr> {
    let txn = db.begin().await?;
    let codes = replace_recovery_codes(&txn, config, user_id, now).await?;
    let event = Event::new(user_id, EventKind::RecoveryCodesRegenerated, client);
    security_log::record(&txn, now, event).await;
    crate::db::changes::commit(txn).await?;
    Ok(codes)
}

async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    user_id: i32,
    now: OffsetDateTime,
) -> Result<Vec<String>, DbErr> {
    delete_owned::<recovery_code::Entity>(user_id)
        .exec(db)
        .await?;
    let codes: Vec<String> = (0..recovery::CODES_PER_SET)
        .map(|_| recovery::generate())
        .collect();
    let rows = codes.iter().map(|code| recovery_code::ActiveModel {
        user_id: Set(user_id),
        code_hash: Set(recovery::hash(
            config,
            &recovery::normalize(code).expect("generated codes are well-formed"),
        )),
        created_at: Set(now),
        used_at: Set(None),
        ..Default::default()
    });
    recovery_code::Entity::insert_many(rows).exec(db).await?;
    Ok(codes)
}

/// Turns 2FA off and forgets the secret and the recovery codes; recorded,
/// and the holder told by mail.
pub async fn disable(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    account: &user::Model,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    turn_off(&txn, account.id).await?;
    let event = Event::new(account.id, EventKind::TwoFactorDisabled, client);
    security_log::record(&txn, now, event).await;
    let notice = Notice::TwoFactorDisabled;
    notice::queue(&txn, config, now, &account.email, &account.username, notice).await?;
    crate::db::changes::commit(txn).await
}

/// Forgets the account's TOTP secret and recovery codes, in the caller's
/// transaction (the holder turning it off, or a superuser's reset, which
/// records and tells in its own words).
pub async fn turn_off(conn: &impl ConnectionTrait, user_id: i32) -> Result<(), DbErr> {
    user::clear_totp(conn, user_id).await?;
    delete_owned::<recovery_code::Entity>(user_id)
        .exec(conn)
        .await?;
    Ok(())
}
