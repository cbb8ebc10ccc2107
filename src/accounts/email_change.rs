//! Changing an account's address: a `change_email` link goes to the new
//! address and a notice to the old one; the address changes only when the
//! link is confirmed. The link is bound to the password hash, the current
//! address and the new one, so it is void once any of them changes. An
//! address that belongs to another account gets no link, and the asker
//! is told the same as for a free one: the form does not reveal who has
//! an account.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _};
use serde_json::json;
use time::OffsetDateTime;

use super::entity as user;
use super::forms::Email;
use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::email::notice::{self, Notice};
use crate::email::{self, token};
use crate::security_log::{self, Event, EventKind};

const CHANGE_MAIL: &str = include_str!("../../templates/email/change_email.txt");

/// The state a change link is bound to.
pub fn change_state(config: &AppConfig, account: &user::Model, new_email: &str) -> String {
    token::state_of(
        config,
        &[
            account.password_hash.as_deref().unwrap_or(""),
            &account.email,
            new_email,
        ],
    )
}

/// Asks to change `account`'s address to `new_email`, in the caller's
/// transaction: the link to the new address (unless another account has
/// it), the notice to the old one, and the event.
pub async fn request<C: ConnectionTrait>(
    conn: &C,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    account: &user::Model,
    new_email: &Email,
) -> Result<(), DbErr> {
    let new_email = new_email.as_str();
    if user::find_by_login(conn, new_email).await?.is_none() {
        let state = change_state(config, account, new_email);
        let new = token::Issue {
            user_id: account.id,
            purpose: token::Purpose::ChangeEmail,
            state: &state,
            lifetime: config.email_link,
            new_email: Some(new_email),
        };
        let secret = token::issue(conn, config, now, new).await?;
        let link = format!("{}/email/confirm/{secret}", config.public_url);
        let body = CHANGE_MAIL
            .replace("{username}", &account.username)
            .replace("{site}", &config.site_name)
            .replace("{hours}", &config.email_link.whole_hours().to_string())
            .replace("{link}", &link);
        let subject = format!("{}: confirm your new email address", config.site_name);
        email::queue(conn, now, new_email, &subject, &body).await?;
    }
    let notice = Notice::AddressChangeRequested {
        new_address: new_email,
    };
    notice::queue(conn, config, now, &account.email, &account.username, notice).await?;
    let event = Event::new(account.id, EventKind::EmailChangeRequested, client)
        .detail(json!({ "to": new_email }));
    security_log::record(conn, now, event).await;
    Ok(())
}

/// Why a confirmed change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Another account took the address since the link was sent.
    #[error("the address is taken")]
    Taken,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Applies the change the link `row` carries, in the caller's transaction
/// (which has used the link): the new address, verified; every other link
/// of the account void; the event; the notice to the old address.
pub async fn apply<C: ConnectionTrait>(
    conn: &C,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    account: &user::Model,
    row: &token::Model,
) -> Result<String, ApplyError> {
    let new_email = row
        .new_email
        .clone()
        .ok_or_else(|| DbErr::Custom("a change link without its address".to_owned()))?;
    let changed = user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::value(new_email.clone()))
        .col_expr(
            user::Column::EmailKey,
            Expr::value(user::email_key(&new_email)),
        )
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(now))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(account.id))
        .exec(conn)
        .await;
    crate::db::changes::changed();
    if let Err(err) = changed {
        return match crate::db::unique_violation(&err) {
            Some(message) if user::is_email_taken(&message) => Err(ApplyError::Taken),
            _ => Err(err.into()),
        };
    }
    for purpose in [
        token::Purpose::ChangeEmail,
        token::Purpose::VerifyEmail,
        token::Purpose::PasswordReset,
    ] {
        token::void_all(conn, now, account.id, purpose).await?;
    }
    let event = Event::new(account.id, EventKind::EmailChanged, client)
        .detail(json!({ "from": account.email, "to": new_email }));
    security_log::record(conn, now, event).await;
    let notice = Notice::AddressChanged {
        new_address: &new_email,
    };
    notice::queue(conn, config, now, &account.email, &account.username, notice).await?;
    Ok(new_email)
}
