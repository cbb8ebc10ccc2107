//! The `outbox` table and every query on it: queueing a message inside the
//! caller's transaction, finding and claiming due messages, and recording
//! how a delivery went. Times are Unix milliseconds.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{QueryOrder, QuerySelect};
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub to_address: String,
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body_text: String,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub attempts: i32,
    pub sent_at: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Queues a message, due at once. Pass the transaction of the change that
/// causes it: the message exists exactly when the change does.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    now: OffsetDateTime,
    to: &str,
    subject: &str,
    body_text: &str,
) -> Result<i64, DbErr> {
    let row = ActiveModel {
        to_address: sea_orm::Set(to.to_owned()),
        subject: sea_orm::Set(subject.to_owned()),
        body_text: sea_orm::Set(body_text.to_owned()),
        created_at: sea_orm::Set(millis(now)),
        next_attempt_at: sea_orm::Set(millis(now)),
        attempts: sea_orm::Set(0),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(row.id)
}

/// The ids of unsent messages due by `now`, oldest first.
pub async fn due_ids(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::SentAt.is_null())
        .filter(Column::NextAttemptAt.lte(millis(now)))
        .order_by_asc(Column::NextAttemptAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// How many messages wait to be sent, due or not.
pub async fn count_unsent(db: &DatabaseConnection) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::SentAt.is_null())
        .count(db)
        .await
}

/// Claims one due message for `lease`: one conditional update, so of
/// several instances racing for the row exactly one gets it, and the row
/// stays invisible to the others until the lease runs out (a crash while
/// sending only delays the message by the lease).
pub async fn claim(
    db: &DatabaseConnection,
    id: i64,
    now: OffsetDateTime,
    lease: time::Duration,
) -> Result<Option<Model>, DbErr> {
    let claimed = Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::value(millis(now + lease)))
        .filter(Column::Id.eq(id))
        .filter(Column::SentAt.is_null())
        .filter(Column::NextAttemptAt.lte(millis(now)))
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    Entity::find_by_id(id).one(db).await
}

pub async fn mark_sent(db: &DatabaseConnection, id: i64, now: OffsetDateTime) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::SentAt, Expr::value(millis(now)))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn mark_failed(
    db: &DatabaseConnection,
    id: i64,
    next_attempt_at: OffsetDateTime,
    error: &str,
) -> Result<(), DbErr> {
    let error: String = error.chars().take(500).collect();
    Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::value(millis(next_attempt_at)))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastError, Expr::value(error))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
