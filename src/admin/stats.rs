//! The dashboard's numbers, from three aggregate queries (users, sessions,
//! recent sign-ins), never by loading rows.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _, QuerySelect as _,
};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::accounts::entity as user;
use crate::config::AppConfig;
use crate::security_log::{EventKind, entity as event};
use crate::sessions::entity as session;
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

fn count_where(condition: &str) -> Expr {
    Expr::cust(format!(
        "COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"
    ))
}

pub async fn dashboard(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    now: OffsetDateTime,
) -> Result<Dashboard, DbErr> {
    let (users, active_users, members, staff, two_factor_users) = user::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "users")
        .column_as(count_where("is_active"), "active")
        .column_as(count_where("is_member"), "members")
        .column_as(count_where(user::STAFF_SQL), "staff")
        .column_as(count_where("totp_enabled_at IS NOT NULL"), "two_factor")
        .into_tuple::<(i64, i64, i64, i64, i64)>()
        .one(db)
        .await?
        .unwrap_or_default();
    let live_sessions = session::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "live")
        .filter(store::live(config, now))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or_default();
    let recent: Vec<(String, i64)> = event::Entity::find()
        .select_only()
        .column(event::Column::Kind)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(event::Column::CreatedAt.gt(now - Duration::hours(24)))
        .filter(
            event::Column::Kind
                .is_in([EventKind::SignIn.as_str(), EventKind::SignInFailed.as_str()]),
        )
        .group_by(event::Column::Kind)
        .into_tuple()
        .all(db)
        .await?;
    let recent_count = |kind: EventKind| {
        recent
            .iter()
            .find(|(k, _)| k == kind.as_str())
            .map_or(0, |(_, n)| *n)
    };
    Ok(Dashboard {
        users,
        active_users,
        members,
        staff,
        two_factor_users,
        two_factor_percent: if users == 0 {
            0
        } else {
            two_factor_users * 100 / users
        },
        live_sessions,
        sign_ins_24h: recent_count(EventKind::SignIn),
        failed_sign_ins_24h: recent_count(EventKind::SignInFailed),
    })
}
