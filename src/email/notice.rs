//! Notices: short messages telling an account holder that something
//! changed on their account (password, address, two-factor
//! authentication, a recovery code used, a new API key, the account
//! deleted). The service that makes the change queues the notice in the
//! change's transaction. A notice names the event and never carries a
//! secret: no codes, keys or links but the security log's address.

use sea_orm::{ConnectionTrait, DbErr};
use time::OffsetDateTime;

use crate::config::AppConfig;

const TEMPLATE: &str = include_str!("../../templates/email/notice.txt");

/// What happened, with what the holder needs to recognise it.
pub enum Notice<'a> {
    PasswordChanged,
    /// Sent to the old address when a change to `new_address` is asked for.
    AddressChangeRequested {
        new_address: &'a str,
    },
    /// Sent to the old address once the change is confirmed.
    AddressChanged {
        new_address: &'a str,
    },
    TwoFactorEnabled,
    TwoFactorDisabled,
    TwoFactorResetByStaff,
    RecoveryCodeUsed {
        left: u64,
    },
    ApiKeyCreated {
        name: &'a str,
    },
    AccountDeleted,
}

impl Notice<'_> {
    /// The event, as the subject names it.
    fn event(&self) -> &'static str {
        match self {
            Notice::PasswordChanged => "your password was changed",
            Notice::AddressChangeRequested { .. } => "a change of email address was requested",
            Notice::AddressChanged { .. } => "your email address was changed",
            Notice::TwoFactorEnabled => "two-factor authentication turned on",
            Notice::TwoFactorDisabled => "two-factor authentication turned off",
            Notice::TwoFactorResetByStaff => "two-factor authentication turned off by staff",
            Notice::RecoveryCodeUsed { .. } => "a recovery code was used",
            Notice::ApiKeyCreated { .. } => "a new API key was created",
            Notice::AccountDeleted => "your account was deleted",
        }
    }

    fn what(&self, site: &str) -> String {
        match self {
            Notice::PasswordChanged => format!("The password of your {site} account was changed."),
            Notice::AddressChangeRequested { new_address } => format!(
                "Someone signed in to your {site} account asked to change its email address to {new_address}. The address changes only when the link sent there is opened."
            ),
            Notice::AddressChanged { new_address } => format!(
                "The email address of your {site} account was changed to {new_address}. This address will get no more mail about it."
            ),
            Notice::TwoFactorEnabled => {
                format!("Two-factor authentication was turned on for your {site} account.")
            }
            Notice::TwoFactorDisabled => {
                format!("Two-factor authentication was turned off for your {site} account.")
            }
            Notice::TwoFactorResetByStaff => format!(
                "A {site} administrator turned off two-factor authentication for your account and signed out all of its sessions. Turn it on again after you sign in."
            ),
            Notice::RecoveryCodeUsed { left } => format!(
                "A recovery code was used to sign in to your {site} account. {left} unused codes are left."
            ),
            Notice::ApiKeyCreated { name } => {
                format!("A new API key named \"{name}\" was created for your {site} account.")
            }
            Notice::AccountDeleted => format!(
                "Your {site} account and everything it held were deleted. Thank you for having been with us."
            ),
        }
    }

    fn advice(&self, config: &AppConfig) -> String {
        match self {
            Notice::AccountDeleted => {
                "If this was not you, contact the site's administrators at once.".to_owned()
            }
            _ => format!(
                "If this was not you, reset your password at once:\n{}/password/forgot",
                config.public_url
            ),
        }
    }
}

/// Queues `notice` to `to` (the holder's address, or the old one) in the
/// caller's transaction.
pub async fn queue<C: ConnectionTrait>(
    conn: &C,
    config: &AppConfig,
    now: OffsetDateTime,
    to: &str,
    username: &str,
    notice: Notice<'_>,
) -> Result<(), DbErr> {
    // Text a person chose (an API key's name) goes in last, so nothing in
    // it is taken for a placeholder.
    let body = TEMPLATE
        .replace("{site}", &config.site_name)
        .replace("{username}", username)
        .replace(
            "{security}",
            &format!("{}/account/security", config.public_url),
        )
        .replace("{advice}", &notice.advice(config))
        .replace("{what}", &notice.what(&config.site_name));
    let subject = format!("{}: {}", config.site_name, notice.event());
    super::queue(conn, now, to, &subject, &body).await?;
    Ok(())
}
