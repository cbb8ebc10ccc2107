//! The server side of WebAuthn ceremonies in progress: webauthn-rs's state
//! for each challenge handed to a browser, kept in the database (not in a
//! cookie, which could be replayed) under the SHA-256 of the challenge.
//! A browser's answer names its challenge in `clientDataJSON`; the row is
//! taken (deleted) before the answer is verified, so each challenge is
//! verified at most once, and none after five minutes.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbErr, Set};
use time::{Duration, OffsetDateTime};

/// How long a browser has to answer a challenge.
pub const LIFETIME: Duration = Duration::minutes(5);

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkey_challenges")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub challenge_hash: String,
    pub purpose: String,
    pub user_id: Option<i32>,
    pub state: String,
    pub expires_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What a challenge was issued for; an answer is accepted only for the
/// purpose (and account) it was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Register,
    SignIn,
    SecondFactor,
    Confirm,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
            Purpose::Confirm => "confirm",
        }
    }
}

/// Stores `state` for `challenge` (its raw bytes).
pub async fn store(
    db: &impl ConnectionTrait,
    now: OffsetDateTime,
    challenge: &[u8],
    purpose: Purpose,
    user_id: Option<i32>,
    state: String,
) -> Result<(), DbErr> {
    ActiveModel {
        challenge_hash: Set(crate::crypto::sha256_hex(challenge)),
        purpose: Set(purpose.as_str().to_owned()),
        user_id: Set(user_id),
        state: Set(state),
        expires_at: Set(now + LIFETIME),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Takes the state stored for `challenge` if it was issued for `purpose`
/// and `user_id` and has not expired: the row is deleted, and only the
/// request whose delete removed it gets the state, so parallel answers to
/// one challenge cannot both pass.
pub async fn take(
    db: &impl ConnectionTrait,
    now: OffsetDateTime,
    challenge: &[u8],
    purpose: Purpose,
    user_id: Option<i32>,
) -> Result<Option<String>, DbErr> {
    let hash = crate::crypto::sha256_hex(challenge);
    let Some(row) = Entity::find()
        .filter(Column::ChallengeHash.eq(hash))
        .all(db)
        .await?
        .pop()
    else {
        return Ok(None);
    };
    let deleted = Entity::delete_many()
        .filter(Column::Id.eq(row.id))
        .exec(db)
        .await?;
    let fits = row.purpose == purpose.as_str() && row.user_id == user_id && row.expires_at > now;
    Ok((deleted.rows_affected == 1 && fits).then_some(row.state))
}

/// Deletes challenges that expired before `now`; answers how many.
pub async fn delete_expired(db: &impl ConnectionTrait, now: OffsetDateTime) -> Result<u64, DbErr> {
    let result = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
