//! The account holder's data as one JSON document (`GET /account/export`):
//! profile, sessions, linked accounts, API keys, two-factor state and the
//! security log. Nothing secret is in it: no password hash, session or key
//! hashes, TOTP secret or recovery codes; an API key appears by name and
//! prefix only, a session by its public id.

use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::accounts::entity as user;
use crate::config::AppConfig;
use crate::security_log::{self, EventKind};
use crate::{api_keys, oauth, sessions, two_factor};

fn at(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}

fn at_opt(time: Option<OffsetDateTime>) -> Value {
    time.map_or(Value::Null, |time| Value::String(at(time)))
}

/// Everything stored about `account`, as the download holds it.
pub async fn account_data(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    account: &user::Model,
) -> Result<Value, DbErr> {
    let id = account.id;
    let sessions = sessions::store::list_live_for_user(db, config, now, id).await?;
    let linked = oauth::entity::list_for_user(db, id).await?;
    let keys = api_keys::entity::list_for_user(db, id).await?;
    let events = security_log::entity::all_for_user(db, id).await?;
    let recovery_codes_left = if account.has_two_factor() {
        two_factor::entity::count_unused(db, id).await?
    } else {
        0
    };
    Ok(json!({
        "exported_at": at(now),
        "site": config.site_name,
        "profile": {
            "username": account.username,
            "email": account.email,
            "email_verified_at": at_opt(account.email_verified_at),
            "is_active": account.is_active,
            "is_member": account.is_member,
            "is_staff": account.is_staff,
            "is_superuser": account.is_superuser,
            "has_password": account.password_hash.is_some(),
            "created_at": at(account.created_at),
            "updated_at": at(account.updated_at),
            "last_login_at": at_opt(account.last_login_at),
        },
        "two_factor": {
            "enabled": account.has_two_factor(),
            "enabled_at": at_opt(account.totp_enabled_at),
            "recovery_codes_left": recovery_codes_left,
        },
        "sessions": sessions.iter().map(|session| json!({
            "id": session.public_id,
            "kind": session.kind,
            "remember": session.remember,
            "ip": session.ip,
            "user_agent": session.user_agent,
            "created_at": at(session.created_at),
            "last_seen_at": at(session.last_seen_at),
            "expires_at": at(session.expires_at),
        })).collect::<Vec<_>>(),
        "linked_accounts": linked.iter().map(|link| json!({
            "provider": link.provider,
            "login": link.login,
            "email": link.email,
            "linked_at": at(link.linked_at),
        })).collect::<Vec<_>>(),
        "api_keys": keys.iter().map(|key| json!({
            "name": key.name,
            "prefix": key.prefix,
            "scopes": key.scopes,
            "created_at": at(key.created_at),
            "expires_at": at_opt(key.expires_at),
            "last_used_at": at_opt(key.last_used_at),
            "revoked_at": at_opt(key.revoked_at),
        })).collect::<Vec<_>>(),
        "security_log": events.iter().map(|event| {
            let detail = event
                .detail
                .as_deref()
                .and_then(|detail| serde_json::from_str(detail).ok())
                .unwrap_or(Value::Null);
            let sentence = EventKind::parse(&event.kind)
                .map(|kind| security_log::sentence::sentence(kind, &detail));
            json!({
                "at": at(event.created_at),
                "event": event.kind,
                "description": sentence,
                "ip": event.ip,
                "user_agent": event.user_agent,
            })
        }).collect::<Vec<_>>(),
    }))
}
