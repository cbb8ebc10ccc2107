//! The security log: sign-ins and failures, sign-outs, password changes,
//! sessions ended, two-factor changes, API keys, passkeys, linked accounts and staff
//! actions, each with time, address and browser, shown to the user at
//! `/account/security` (and to staff on the admin pages).
//!
//! Rules: recording never fails the action it records (an error is logged
//! and the action goes on), and only actions record, so ordinary page views
//! cost nothing. The detail is a small JSON object with nothing secret.

pub mod entity;
pub mod sentence;

use sea_orm::{ActiveModelTrait as _, ConnectionTrait, Set};
use serde_json::Value;
use time::OffsetDateTime;

use crate::client::ClientInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    SignIn,
    SignInFailed,
    SignOut,
    PasswordChanged,
    PasswordReset,
    PasswordResetSentByStaff,
    SessionRevoked,
    OtherSessionsRevoked,
    TwoFactorEnabled,
    TwoFactorDisabled,
    RecoveryCodeUsed,
    RecoveryCodesRegenerated,
    ApiKeyCreated,
    ApiKeyRevoked,
    AccountLinked,
    AccountUnlinked,
    AccountDeactivated,
    AccountReactivated,
    RolesChanged,
    AllSessionsRevokedByStaff,
    AccountDeleted,
    EmailChangeRequested,
    EmailChanged,
    TwoFactorResetByStaff,
    TwoFactorResetOfAccount,
    Reauthenticated,
    ReauthenticationFailed,
    PasskeyAdded,
    PasskeyRemoved,
}

impl EventKind {
    pub const ALL: [EventKind; 29] = [
        EventKind::SignIn,
        EventKind::SignInFailed,
        EventKind::SignOut,
        EventKind::PasswordChanged,
        EventKind::PasswordReset,
        EventKind::PasswordResetSentByStaff,
        EventKind::SessionRevoked,
        EventKind::OtherSessionsRevoked,
        EventKind::TwoFactorEnabled,
        EventKind::TwoFactorDisabled,
        EventKind::RecoveryCodeUsed,
        EventKind::RecoveryCodesRegenerated,
        EventKind::ApiKeyCreated,
        EventKind::ApiKeyRevoked,
        EventKind::AccountLinked,
        EventKind::AccountUnlinked,
        EventKind::AccountDeactivated,
        EventKind::AccountReactivated,
        EventKind::RolesChanged,
        EventKind::AllSessionsRevokedByStaff,
        EventKind::AccountDeleted,
        EventKind::EmailChangeRequested,
        EventKind::EmailChanged,
        EventKind::TwoFactorResetByStaff,
        EventKind::TwoFactorResetOfAccount,
        EventKind::Reauthenticated,
        EventKind::ReauthenticationFailed,
        EventKind::PasskeyAdded,
        EventKind::PasskeyRemoved,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SignIn => "sign_in",
            EventKind::SignInFailed => "sign_in_failed",
            EventKind::SignOut => "sign_out",
            EventKind::PasswordChanged => "password_changed",
            EventKind::PasswordReset => "password_reset",
            EventKind::PasswordResetSentByStaff => "password_reset_sent",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::OtherSessionsRevoked => "other_sessions_revoked",
            EventKind::TwoFactorEnabled => "two_factor_enabled",
            EventKind::TwoFactorDisabled => "two_factor_disabled",
            EventKind::RecoveryCodeUsed => "recovery_code_used",
            EventKind::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            EventKind::ApiKeyCreated => "api_key_created",
            EventKind::ApiKeyRevoked => "api_key_revoked",
            EventKind::AccountLinked => "account_linked",
            EventKind::AccountUnlinked => "account_unlinked",
            EventKind::AccountDeactivated => "account_deactivated",
            EventKind::AccountReactivated => "account_reactivated",
            EventKind::RolesChanged => "roles_changed",
            EventKind::AllSessionsRevokedByStaff => "all_sessions_revoked",
            EventKind::AccountDeleted => "account_deleted",
            EventKind::EmailChangeRequested => "email_change_requested",
            EventKind::EmailChanged => "email_changed",
            EventKind::TwoFactorResetByStaff => "two_factor_reset",
            EventKind::TwoFactorResetOfAccount => "two_factor_reset_of_account",
            EventKind::Reauthenticated => "reauthenticated",
            EventKind::ReauthenticationFailed => "reauthentication_failed",
            EventKind::PasskeyAdded => "passkey_added",
            EventKind::PasskeyRemoved => "passkey_removed",
        }
    }

    /// What the log page says.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::SignIn => "Signed in",
            EventKind::SignInFailed => "Failed sign-in attempt",
            EventKind::SignOut => "Signed out",
            EventKind::PasswordChanged => "Password changed",
            EventKind::PasswordReset => "Password reset by email link",
            EventKind::PasswordResetSentByStaff => "Password-reset link sent by staff",
            EventKind::SessionRevoked => "Session ended",
            EventKind::OtherSessionsRevoked => "All other sessions ended",
            EventKind::TwoFactorEnabled => "Two-factor authentication turned on",
            EventKind::TwoFactorDisabled => "Two-factor authentication turned off",
            EventKind::RecoveryCodeUsed => "Recovery code used",
            EventKind::RecoveryCodesRegenerated => "New recovery codes made",
            EventKind::ApiKeyCreated => "API key created",
            EventKind::ApiKeyRevoked => "API key revoked",
            EventKind::AccountLinked => "Account linked",
            EventKind::AccountUnlinked => "Account unlinked",
            EventKind::AccountDeactivated => "Account deactivated",
            EventKind::AccountReactivated => "Account reactivated",
            EventKind::RolesChanged => "Roles changed",
            EventKind::AllSessionsRevokedByStaff => "All sessions ended",
            EventKind::AccountDeleted => "Deleted an account",
            EventKind::EmailChangeRequested => "Change of email address requested",
            EventKind::EmailChanged => "Email address changed",
            EventKind::TwoFactorResetByStaff => "Two-factor authentication turned off by staff",
            EventKind::TwoFactorResetOfAccount => {
                "Turned off an account's two-factor authentication"
            }
            EventKind::Reauthenticated => "Confirmed it was you",
            EventKind::ReauthenticationFailed => "Failed confirmation",
            EventKind::PasskeyAdded => "Passkey added",
            EventKind::PasskeyRemoved => "Passkey removed",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// One thing that happened to `user_id`'s account.
pub struct Event<'a> {
    pub user_id: i32,
    pub kind: EventKind,
    pub client: &'a ClientInfo,
    /// The staff member who acted, when it was not the user.
    pub actor_id: Option<i32>,
    pub detail: Value,
}

impl<'a> Event<'a> {
    pub fn new(user_id: i32, kind: EventKind, client: &'a ClientInfo) -> Event<'a> {
        Event {
            user_id,
            kind,
            client,
            actor_id: None,
            detail: Value::Null,
        }
    }

    pub fn detail(mut self, detail: Value) -> Event<'a> {
        self.detail = detail;
        self
    }

    pub fn by(mut self, actor_id: i32) -> Event<'a> {
        self.actor_id = Some(actor_id);
        self
    }
}

/// Records `event`. Never fails: the action it describes has happened, and
/// a log write that fails is itself logged.
pub async fn record(db: &impl ConnectionTrait, now: OffsetDateTime, event: Event<'_>) {
    let method = event.detail.get("method").and_then(Value::as_str);
    crate::telemetry::metrics::security_event(event.kind.as_str(), method);
    let detail = (!event.detail.is_null()).then(|| event.detail.to_string());
    let inserted = entity::ActiveModel {
        user_id: Set(event.user_id),
        kind: Set(event.kind.as_str().to_owned()),
        created_at: Set(now),
        ip: Set(event.client.ip_string()),
        user_agent: Set(event.client.user_agent.clone()),
        actor_id: Set(event.actor_id),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(db)
    .await;
    if let Err(e) = inserted {
        tracing::error!(error = %e, kind = event.kind.as_str(), "could not record a security event");
    }
}
