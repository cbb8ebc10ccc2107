//! Queries on sessions. Every lookup by a client's secret goes through the
//! SHA-256 of that secret; every query that acts for a user is scoped to
//! that user in the query itself.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, DbBackend, DbErr,
    EntityTrait as _, QueryFilter as _, QueryTrait as _, SelectTwo, SelectTwoModel,
    SelectorTrait as _, Set, Statement, Value,
};
use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use super::entity::{self as session, SessionKind};
use crate::accounts::entity as user;
use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::db::changes::{self, Memo};
use crate::db::{PrebuiltSql, delete_owned, find_owned};

/// `last_seen_at` is written at most this often per session, so an
/// ordinary page view writes nothing.
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// Live sessions with their users, remembered by the hash of the
/// client's secret or by public id (see `db::changes`).
pub type LiveSessions = Memo<(session::Model, user::Model)>;

/// A session just created, with the secret its client must hold. The
/// secret exists only here and in the client; the row keeps its hash.
pub struct IssuedSession {
    pub secret: String,
    pub session: session::Model,
}

pub fn hash_secret(secret: &str) -> String {
    crate::crypto::sha256_hex(secret.as_bytes())
}

/// Opens a session for `user_id`. A browser session ends after
/// `session_idle_minutes` without use or `session_max_days` in all; with
/// `remember` it lasts `remember_me_days` with no idle timeout. An API
/// session (bearer or single-page-app tokens) has a browser session's
/// limits: its short-lived access tokens are renewed, by refresh token or
/// sliding cookie, only while it lives. `user` is as
/// loaded before its password was checked: the session records that
/// credential version, so a password change that commits in between ends it.
pub async fn create(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    now: OffsetDateTime,
    user: &user::Model,
    kind: SessionKind,
    remember: bool,
    client: &ClientInfo,
) -> Result<IssuedSession, DbErr> {
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let lifetime = if kind == SessionKind::Browser && remember {
        config.remember_me
    } else {
        config.session_max
    };
    let session = session::ActiveModel {
        public_id: Set(uuid::Uuid::new_v4().to_string()),
        token_hash: Set(hash_secret(&secret)),
        user_id: Set(user.id),
        kind: Set(kind.as_str().to_owned()),
        remember: Set(remember),
        ip: Set(client.ip_string()),
        user_agent: Set(client.user_agent.clone()),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + lifetime),
        credential_version: Set(user.credential_version),
        confirmed_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    crate::telemetry::metrics::session_created(kind.as_str());
    Ok(IssuedSession { secret, session })
}

/// How a client names its session: a browser by the secret in its cookie,
/// a bearer token by the session's public id (the token's `sid`, trusted
/// because the token's signature was checked first), a refresh token by
/// the row it belongs to.
#[derive(Clone, Copy)]
pub enum SessionRef<'a> {
    Secret(&'a str),
    PublicId(&'a str),
    Id(i32),
}

/// The live session `reference` names, with its (active) user: one query,
/// or none when `memo` remembers it, plus a `last_seen_at` update at most
/// once a minute. A session made with another credential version than the
/// user's (an older password) is not live. Refresh tokens name their
/// session by row id, rarely: those lookups are not remembered.
pub async fn find_live(
    db: &impl ConnectionTrait,
    memo: &LiveSessions,
    config: &AppConfig,
    now: OffsetDateTime,
    reference: SessionRef<'_>,
) -> Result<Option<(session::Model, user::Model)>, DbErr> {
    let key = match reference {
        SessionRef::Secret(secret) => hash_secret(secret),
        SessionRef::PublicId(id) => id.to_owned(),
        SessionRef::Id(_) => return read_live(db, config, now, reference).await,
    };
    if let Some((session, user)) = memo.get(&key)
        && is_live(config, now, &session, &user)
    {
        let found = touch(db, now, session, user).await?;
        if found.0.last_seen_at == now {
            memo.replace(&key, found.clone());
        }
        return Ok(Some(found));
    }
    let ticket = memo.ticket();
    let found = read_live(db, config, now, reference).await?;
    if let (Some(ticket), Some(found)) = (ticket, &found) {
        memo.keep(key, ticket, found.clone());
    }
    Ok(found)
}

/// [`find_live`] from the database, not remembered.
pub async fn read_live(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    now: OffsetDateTime,
    reference: SessionRef<'_>,
) -> Result<Option<(session::Model, user::Model)>, DbErr> {
    let statement = lookup_statement(db.get_database_backend(), config, now, reference);
    let found = match db.query_all_raw(statement).await?.pop() {
        Some(row) => SelectTwoModel::<session::Model, user::Model>::from_raw_query_result(row)?,
        None => return Ok(None),
    };
    let (session, Some(user)) = found else {
        return Ok(None);
    };
    if !user.is_active {
        return Ok(None);
    }
    touch(db, now, session, user).await.map(Some)
}

/// [`live`] and an active user, checked on a remembered answer: the
/// rows have not changed since they were read, but time has passed. The
/// same rule as [`live`]'s SQL: change the two together.
fn is_live(
    config: &AppConfig,
    now: OffsetDateTime,
    session: &session::Model,
    user: &user::Model,
) -> bool {
    user.is_active
        && session.credential_version == user.credential_version
        && session.expires_at > now
        && (session.remember || session.last_seen_at > now - config.session_idle)
}

/// Records the session's use at most once a minute. Not counted as a
/// change: only `last_seen_at` moves, and a remembered copy with an
/// older one only looks closer to idling out, so it is read again.
async fn touch(
    db: &impl ConnectionTrait,
    now: OffsetDateTime,
    mut session: session::Model,
    user: user::Model,
) -> Result<(session::Model, user::Model), DbErr> {
    if now - session.last_seen_at >= TOUCH_INTERVAL {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, now.into())
            .filter(session::Column::Id.eq(session.id))
            .exec(db)
            .await?;
        session.last_seen_at = now;
    }
    Ok((session, user))
}

/// The lookup as SeaORM builds it. Both reference columns are unique, so
/// no LIMIT: SeaORM's `.one()` would bind `LIMIT ?`, and SQLite then plans
/// the statement anew on every request.
fn lookup_query(
    config: &AppConfig,
    now: OffsetDateTime,
    reference: SessionRef<'_>,
) -> SelectTwo<session::Entity, user::Entity> {
    let condition = match reference {
        SessionRef::Secret(secret) => session::Column::TokenHash.eq(hash_secret(secret)),
        SessionRef::PublicId(id) => session::Column::PublicId.eq(id),
        SessionRef::Id(id) => session::Column::Id.eq(id),
    };
    session::Entity::find()
        .filter(condition)
        .filter(live(config, now))
        .find_also_related(user::Entity)
}

/// [`lookup_query`] with its SQL built once per backend and kind of
/// reference: it runs on every signed-in request. Only the values change;
/// they follow the order of the conditions.
fn lookup_statement(
    backend: DbBackend,
    config: &AppConfig,
    now: OffsetDateTime,
    reference: SessionRef<'_>,
) -> Statement {
    static SQL: [PrebuiltSql; 3] = [const { PrebuiltSql::new() }; 3];
    let (kind, value): (usize, Value) = match reference {
        SessionRef::Secret(secret) => (0, hash_secret(secret).into()),
        SessionRef::PublicId(id) => (1, id.into()),
        SessionRef::Id(id) => (2, id.into()),
    };
    let values = [
        value,
        now.into(),
        true.into(),
        (now - config.session_idle).into(),
    ];
    SQL[kind].statement(
        backend,
        || lookup_query(config, now, reference).build(backend).sql,
        values,
    )
}

/// The one rule of a live session, as an SQL condition (and, for a
/// remembered row, as Rust in [`is_live`]): not past its
/// absolute end, and used within `session_idle_minutes` unless it is
/// remembered (API sessions idle out too: every token use or refresh
/// counts as use). Lookups,
/// lists, the dashboard's count and the sweeper all use it.
pub fn live(config: &AppConfig, now: OffsetDateTime) -> Condition {
    // Made with the user's current credentials: a sign-in that raced a
    // password change recorded the old version, and is dead.
    let current_version = Query::select()
        .column((user::Entity, user::Column::CredentialVersion))
        .from(user::Entity)
        .and_where(
            Expr::col((user::Entity, user::Column::Id))
                .equals((session::Entity, session::Column::UserId)),
        )
        .to_owned();
    Condition::all()
        .add(session::Column::ExpiresAt.gt(now))
        .add(
            Expr::col((session::Entity, session::Column::CredentialVersion))
                .in_subquery(current_version),
        )
        .add(
            Condition::any()
                .add(session::Column::Remember.eq(true))
                .add(session::Column::LastSeenAt.gt(now - config.session_idle)),
        )
}

/// Deletes every session that is no longer live; answers how many.
pub async fn delete_dead(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    now: OffsetDateTime,
) -> Result<u64, DbErr> {
    let deleted = session::Entity::delete_many()
        .filter(live(config, now).not())
        .exec(db)
        .await?;
    changes::changed();
    Ok(deleted.rows_affected)
}

/// How many sessions are live, in one aggregate query.
pub async fn count_live(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    now: OffsetDateTime,
) -> Result<i64, DbErr> {
    use sea_orm::QuerySelect as _;
    let live = session::Entity::find()
        .select_only()
        .column_as(sea_orm::sea_query::Expr::cust("COUNT(*)"), "live")
        .filter(live(config, now))
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(live.unwrap_or_default())
}

/// Deletes session `public_id` if `user_id` owns it. False means there is
/// no such session of theirs, which callers answer with 404.
pub async fn delete_owned_by_public_id(
    db: &impl ConnectionTrait,
    user_id: i32,
    public_id: &str,
) -> Result<bool, DbErr> {
    let result = delete_owned::<session::Entity>(user_id)
        .filter(session::Column::PublicId.eq(public_id))
        .exec(db)
        .await?;
    changes::changed();
    Ok(result.rows_affected == 1)
}

/// The user's live sessions, most recently used first.
pub async fn list_live_for_user(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    now: OffsetDateTime,
    user_id: i32,
) -> Result<Vec<session::Model>, DbErr> {
    use sea_orm::QueryOrder as _;
    find_owned::<session::Entity>(user_id)
        .filter(live(config, now))
        .order_by_desc(session::Column::LastSeenAt)
        .order_by_desc(session::Column::Id)
        .all(db)
        .await
}

/// When each of `user_ids` was last active in any session they still have
/// (browser or API): one grouped query for a whole page of users.
pub async fn last_seen_by_user(
    db: &impl ConnectionTrait,
    user_ids: &[i32],
) -> Result<HashMap<i32, OffsetDateTime>, DbErr> {
    use sea_orm::QuerySelect as _;
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i32, OffsetDateTime)> = session::Entity::find()
        .select_only()
        .column(session::Column::UserId)
        .column_as(session::Column::LastSeenAt.max(), "last_seen")
        .filter(session::Column::UserId.is_in(user_ids.iter().copied()))
        .group_by(session::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Gives session `id` a new secret and public id (the old cookie value
/// dies with them) and the credential version `version`; answers the new
/// secret and the row.
pub async fn renew(
    db: &impl ConnectionTrait,
    id: i32,
    version: i32,
) -> Result<Option<IssuedSession>, DbErr> {
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let renewed = session::Entity::update_many()
        .col_expr(
            session::Column::PublicId,
            uuid::Uuid::new_v4().to_string().into(),
        )
        .col_expr(session::Column::TokenHash, hash_secret(&secret).into())
        .col_expr(session::Column::CredentialVersion, version.into())
        .filter(session::Column::Id.eq(id))
        .exec_with_returning(db)
        .await?
        .pop();
    changes::changed();
    Ok(renewed.map(|session| IssuedSession { secret, session }))
}

/// Records that the holder of session `id` proved who they are at `now`
/// (a password or code typed again), restarting its reauthentication
/// window.
pub async fn mark_confirmed(
    db: &impl ConnectionTrait,
    id: i32,
    now: OffsetDateTime,
) -> Result<(), DbErr> {
    session::Entity::update_many()
        .col_expr(session::Column::ConfirmedAt, Expr::value(now))
        .filter(session::Column::Id.eq(id))
        .exec(db)
        .await?;
    changes::changed();
    Ok(())
}

/// Ends the session whose client holds `secret`, if there is one.
pub async fn delete_by_secret(db: &impl ConnectionTrait, secret: &str) -> Result<(), DbErr> {
    session::Entity::delete_many()
        .filter(session::Column::TokenHash.eq(hash_secret(secret)))
        .exec(db)
        .await?;
    changes::changed();
    Ok(())
}

pub async fn delete(db: &impl ConnectionTrait, id: i32) -> Result<(), DbErr> {
    session::Entity::delete_by_id(id).exec(db).await?;
    changes::changed();
    Ok(())
}

/// Ends every session of `user_id` except `keep` (the one in use, if any).
pub async fn delete_others(
    db: &impl ConnectionTrait,
    user_id: i32,
    keep: Option<i32>,
) -> Result<u64, DbErr> {
    let mut delete = delete_owned::<session::Entity>(user_id);
    if let Some(keep) = keep {
        delete = delete.filter(session::Column::Id.ne(keep));
    }
    let result = delete.exec(db).await?;
    changes::changed();
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prebuilt_lookup_is_the_query_seaorm_builds() {
        let figment = crate::config::bare_figment(rocket::figment::Profile::Default)
            .merge(("secret_key", "ab".repeat(32)));
        let config = AppConfig::from_figment(&figment).unwrap();
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for reference in [
                SessionRef::Secret("a secret"),
                SessionRef::PublicId("a public id"),
                SessionRef::Id(42),
            ] {
                // Twice: the first builds the SQL, the second reuses it.
                for later in [now, now + Duration::hours(3)] {
                    assert_eq!(
                        lookup_statement(backend, &config, later, reference),
                        lookup_query(&config, later, reference).build(backend)
                    );
                }
            }
        }
    }
}
