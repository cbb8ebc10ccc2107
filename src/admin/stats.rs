//! The dashboard's numbers, from three aggregate queries (users, sessions,
//! recent sign-ins), each beside its entity, never by loading rows.

use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::accounts::entity as user;
use crate::config::AppConfig;
use crate::security_log::{EventKind, entity as event};
use crate::sessions::store;

#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub users: i64,
    pub active_users: i64,
    pub members: i64,
    pub staff: i64,
    pub two_factor_users: i64,
    /// Whole percent of users with two-factor authentication on.
    pub two_factor_percent: i64,
    pub live_sessions: i64,
    pub sign_ins_24h: i64,
    pub failed_sign_ins_24h: i64,
}

pub async fn dashboard(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    now: OffsetDateTime,
) -> Result<Dashboard, DbErr> {
    let users = user::counts(db).await?;
    let live_sessions = store::count_live(db, config, now).await?;
    let recent = event::count_by_kind(
        db,
        &[EventKind::SignIn, EventKind::SignInFailed],
        now - Duration::hours(24),
    )
    .await?;
    let recent_count = |kind: EventKind| {
        recent
            .iter()
            .find(|(k, _)| k == kind.as_str())
            .map_or(0, |(_, n)| *n)
    };
    Ok(Dashboard {
        users: users.users,
        active_users: users.active,
        members: users.members,
        staff: users.staff,
        two_factor_users: users.two_factor,
        two_factor_percent: if users.users == 0 {
            0
        } else {
            users.two_factor * 100 / users.users
        },
        live_sessions,
        sign_ins_24h: recent_count(EventKind::SignIn),
        failed_sign_ins_24h: recent_count(EventKind::SignInFailed),
    })
}
