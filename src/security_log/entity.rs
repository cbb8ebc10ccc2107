//! The `security_events` table and its queries.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbErr, QueryOrder as _};

use crate::db::find_owned;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub kind: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub actor_id: Option<i32>,
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// One page (0-based) of the user's events, newest first, and the total.
pub async fn page_for_user(
    db: &impl ConnectionTrait,
    user_id: i32,
    page: u64,
    per_page: u64,
) -> Result<(Vec<Model>, u64), DbErr> {
    let paginator = find_owned::<Entity>(user_id)
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .paginate(db, per_page);
    let total = paginator.num_items().await?;
    Ok((paginator.fetch_page(page).await?, total))
}

/// All of the user's events, newest first (the data export).
pub async fn all_for_user(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<Model>, DbErr> {
    find_owned::<Entity>(user_id)
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .all(db)
        .await
}

/// The user's events of `kind` since `since`, newest first.
pub async fn recent_of_kind(
    db: &impl ConnectionTrait,
    user_id: i32,
    kind: &str,
    since: TimeDateTimeWithTimeZone,
) -> Result<Vec<Model>, DbErr> {
    find_owned::<Entity>(user_id)
        .filter(Column::Kind.eq(kind))
        .filter(Column::CreatedAt.gt(since))
        .order_by_desc(Column::CreatedAt)
        .all(db)
        .await
}

/// How many events of each of `kinds` happened after `since`, as
/// (stored name, count), in one grouped query.
pub async fn count_by_kind(
    db: &impl ConnectionTrait,
    kinds: &[super::EventKind],
    since: TimeDateTimeWithTimeZone,
) -> Result<Vec<(String, i64)>, DbErr> {
    use sea_orm::QuerySelect as _;
    Entity::find()
        .select_only()
        .column(Column::Kind)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(Column::CreatedAt.gt(since))
        .filter(Column::Kind.is_in(kinds.iter().map(|kind| kind.as_str())))
        .group_by(Column::Kind)
        .into_tuple()
        .all(db)
        .await
}

pub async fn delete_older_than(
    db: &impl ConnectionTrait,
    cutoff: TimeDateTimeWithTimeZone,
) -> Result<u64, DbErr> {
    let result = Entity::delete_many()
        .filter(Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

impl crate::db::OwnedByUser for Entity {
    fn owner_column() -> Column {
        Column::UserId
    }
}
