//! Things a user owns (sessions, API keys, linked accounts) are only ever
//! looked up, changed or deleted through their owner: the owner's id is a
//! condition of the query itself, so another user's id finds nothing and
//! answers 404 exactly as an id that does not exist. Every query acting
//! for a user on their things starts from one of these functions.

use sea_orm::{ColumnTrait as _, DeleteMany, EntityTrait, QueryFilter as _, Select, UpdateMany};

/// An entity whose rows belong to one user.
pub trait OwnedByUser: EntityTrait {
    /// The column holding the owner's user id.
    fn owner_column() -> Self::Column;
}

/// `SELECT` among `user_id`'s rows only.
pub fn find_owned<E: OwnedByUser>(user_id: i32) -> Select<E> {
    E::find().filter(E::owner_column().eq(user_id))
}

/// `UPDATE` among `user_id`'s rows only.
pub fn update_owned<E: OwnedByUser>(user_id: i32) -> UpdateMany<E> {
    E::update_many().filter(E::owner_column().eq(user_id))
}

/// `DELETE` among `user_id`'s rows only.
pub fn delete_owned<E: OwnedByUser>(user_id: i32) -> DeleteMany<E> {
    E::delete_many().filter(E::owner_column().eq(user_id))
}

impl OwnedByUser for crate::sessions::entity::Entity {
    fn owner_column() -> Self::Column {
        crate::sessions::entity::Column::UserId
    }
}

impl OwnedByUser for crate::api_keys::entity::Entity {
    fn owner_column() -> Self::Column {
        crate::api_keys::entity::Column::UserId
    }
}

impl OwnedByUser for crate::oauth::entity::Entity {
    fn owner_column() -> Self::Column {
        crate::oauth::entity::Column::UserId
    }
}

impl OwnedByUser for crate::two_factor::entity::Entity {
    fn owner_column() -> Self::Column {
        crate::two_factor::entity::Column::UserId
    }
}

impl OwnedByUser for crate::security_log::entity::Entity {
    fn owner_column() -> Self::Column {
        crate::security_log::entity::Column::UserId
    }
}
