//! Verifying an account's address: a `verify_email` token and the message
//! carrying its link, written in the caller's transaction, and confirming
//! it. Like every emailed link, it is bound to the account's password hash
//! and address, so a link sent to an old address confirms nothing.

use sea_orm::{ActiveModelTrait as _, ConnectionTrait, DbErr, Set};
use time::OffsetDateTime;

use super::entity as user;
use super::recovery::account_state;
use crate::config::AppConfig;
use crate::email::{self, token};

const VERIFY_MAIL: &str = include_str!("../../templates/email/verify_email.txt");

/// Issues a verification token for `account` and queues the mail with its
/// link (valid `email_link_hours`).
pub async fn queue_verify_mail<C: ConnectionTrait>(
    conn: &C,
    config: &AppConfig,
    now: OffsetDateTime,
    account: &user::Model,
) -> Result<(), DbErr> {
    let state = account_state(config, account);
    let new = token::Issue {
        user_id: account.id,
        purpose: token::Purpose::VerifyEmail,
        state: &state,
        lifetime: config.email_link,
        new_email: None,
    };
    let secret = token::issue(conn, config, now, new).await?;
    let link = format!("{}/email/confirm/{secret}", config.public_url);
    let body = VERIFY_MAIL
        .replace("{username}", &account.username)
        .replace("{site}", &config.site_name)
        .replace("{hours}", &config.email_link.whole_hours().to_string())
        .replace("{link}", &link);
    let subject = format!("{}: confirm your email address", config.site_name);
    email::queue(conn, now, &account.email, &subject, &body).await?;
    Ok(())
}

/// Records that `user_id` confirmed its address.
pub async fn mark_verified<C: ConnectionTrait>(
    conn: &C,
    user_id: i32,
    now: OffsetDateTime,
) -> Result<(), DbErr> {
    user::ActiveModel {
        id: Set(user_id),
        email_verified_at: Set(Some(now)),
        ..Default::default()
    }
    .update(conn)
    .await?;
    crate::db::changes::changed();
    Ok(())
}
