//! The reset mail: a password-reset token for an account and the message
//! carrying its link, written in the caller's transaction. Asked for by
//! the account holder (`auth::recovery`, which also caps how often) or
//! sent by staff (`admin::staff`). A link is bound to the account's
//! password hash and address: it is void once either changes.

use sea_orm::ConnectionTrait;
use time::OffsetDateTime;

use super::entity as user;
use crate::config::AppConfig;
use crate::email::{self, token};

const RESET_MAIL: &str = include_str!("../../templates/email/password_reset.txt");

/// The state a reset link is bound to.
pub fn account_state(config: &AppConfig, account: &user::Model) -> String {
    token::state_of(
        config,
        &[
            account.password_hash.as_deref().unwrap_or(""),
            &account.email,
        ],
    )
}

/// Issues a reset token for `account` and queues the mail with its link
/// (valid `password_reset_minutes`), both in `conn`'s transaction.
pub async fn queue_reset_mail<C: ConnectionTrait>(
    conn: &C,
    config: &AppConfig,
    now: OffsetDateTime,
    account: &user::Model,
) -> Result<(), sea_orm::DbErr> {
    let state = account_state(config, account);
    let new = token::Issue {
        user_id: account.id,
        purpose: token::Purpose::PasswordReset,
        state: &state,
        lifetime: config.password_reset,
        new_email: None,
    };
    let secret = token::issue(conn, config, now, new).await?;
    let link = format!("{}/password/reset/{secret}", config.public_url);
    let body = RESET_MAIL
        .replace("{username}", &account.username)
        .replace("{site}", &config.site_name)
        .replace(
            "{minutes}",
            &config.password_reset.whole_minutes().to_string(),
        )
        .replace("{link}", &link);
    let subject = format!("{}: reset your password", config.site_name);
    email::queue(conn, now, &account.email, &subject, &body).await?;
    Ok(())
}
