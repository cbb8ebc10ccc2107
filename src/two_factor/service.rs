//! Turning two-factor authentication on and off, recovery code sets, and
//! checking a second factor (for the sign-in step, disabling, and the
//! token endpoint's `otp`). Every acceptance is a conditional UPDATE, so a
//! TOTP step or a recovery code is accepted once even under concurrency.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, DbErr, EntityTrait as _,
    QueryFilter as _, Set, TransactionTrait as _,
};
use time::OffsetDateTime;

use super::entity as recovery_code;
use super::recovery;
use super::totp::{self, STEP_SECONDS, TotpSecret};
use crate::accounts::entity as user;
use crate::config::AppConfig;
use crate::ownership::{delete_owned, update_owned};
use crate::state::AppState;

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

/// Accepts `step` for `user_id` only if it is newer than the last accepted.
async fn claim_step(db: &impl ConnectionTrait, user_id: i32, step: u64) -> Result<bool, DbErr> {
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let claimed = user::Entity::update_many()
        .col_expr(user::Column::TotpLastStep, Expr::value(step))
        .filter(user::Column::Id.eq(user_id))
        .filter(
            Condition::any()
                .add(user::Column::TotpLastStep.is_null())
                .add(user::Column::TotpLastStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Checks `code` as a TOTP code, then as a recovery code, and uses it up.
/// None: wrong, already used, or 2FA is not on.
pub async fn verify(
    app: &AppState<'_>,
    account: &user::Model,
    code: &str,
) -> Result<Option<SecondFactor>, DbErr> {
    let code = code.trim();
    if code.is_empty() || code.len() > MAX_CODE_LEN || !account.has_two_factor() {
        return Ok(None);
    }
    let now = app.clock.now();
    let secret = account
        .totp_secret
        .as_deref()
        .and_then(|sealed| totp::open(app.config, account.id, sealed));
    if let Some(step) = secret.and_then(|s| s.matching_step(code, unix(now))) {
        return Ok(claim_step(app.db, account.id, step)
            .await?
            .then_some(SecondFactor::Authenticator));
    }
    let Some(normalized) = recovery::normalize(code) else {
        return Ok(None);
    };
    let used = update_owned::<recovery_code::Entity>(account.id)
        .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
        .filter(recovery_code::Column::CodeHash.eq(recovery::hash(app.config, &normalized)))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(app.db)
        .await?;
    Ok((used.rows_affected == 1).then_some(SecondFactor::RecoveryCode))
}

/// Makes a new pending secret for setup, replacing any earlier one.
pub async fn begin_setup(app: &AppState<'_>, user_id: i32) -> Result<TotpSecret, DbErr> {
    let secret = TotpSecret::generate();
    user::ActiveModel {
        id: Set(user_id),
        totp_pending_secret: Set(Some(totp::seal(app.config, user_id, &secret))),
        ..Default::default()
    }
    .update(app.db)
    .await?;
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
    app: &AppState<'_>,
    account: &user::Model,
    code: &str,
) -> Result<Confirmation, DbErr> {
    let (Some(sealed), None) = (&account.totp_pending_secret, &account.totp_enabled_at) else {
        return Ok(Confirmation::NothingPending);
    };
    let Some(secret) = totp::open(app.config, account.id, sealed) else {
        return Ok(Confirmation::NothingPending);
    };
    let now = app.clock.now();
    let Some(step) = secret.matching_step(code, unix(now)) else {
        return Ok(Confirmation::WrongCode);
    };
    let txn = app.db.begin().await?;
    // Only the pending secret that was checked becomes the secret.
    let enabled = user::Entity::update_many()
        .col_expr(user::Column::TotpSecret, Expr::value(sealed.clone()))
        .col_expr(
            user::Column::TotpPendingSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(user::Column::TotpEnabledAt, Expr::value(now))
        .col_expr(
            user::Column::TotpLastStep,
            Expr::value(i64::try_from(step).unwrap_or(0)),
        )
        .filter(user::Column::Id.eq(account.id))
        .filter(user::Column::TotpPendingSecret.eq(sealed.clone()))
        .filter(user::Column::TotpEnabledAt.is_null())
        .exec(&txn)
        .await?;
    if enabled.rows_affected != 1 {
        return Ok(Confirmation::NothingPending);
    }
    let codes = replace_recovery_codes(&txn, app.config, account.id, now).await?;
    txn.commit().await?;
    Ok(Confirmation::Enabled(codes))
}

/// A new set of recovery codes; the old set stops working.
pub async fn regenerate_recovery_codes(
    app: &AppState<'_>,
    user_id: i32,
) -> Result<Vec<String>, DbErr> {
    let txn = app.db.begin().await?;
    let codes = replace_recovery_codes(&txn, app.config, user_id, app.clock.now()).await?;
    txn.commit().await?;
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

/// Turns 2FA off and forgets the secret and the recovery codes.
pub async fn disable(app: &AppState<'_>, user_id: i32) -> Result<(), DbErr> {
    let txn = app.db.begin().await?;
    user::Entity::update_many()
        .col_expr(
            user::Column::TotpSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            user::Column::TotpPendingSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            user::Column::TotpEnabledAt,
            Expr::value(Option::<OffsetDateTime>::None),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    delete_owned::<recovery_code::Entity>(user_id)
        .exec(&txn)
        .await?;
    txn.commit().await
}
