//! An event as one sentence a person reads: the kind's label with what
//! its detail says, and no raw keys or internal ids.

use serde_json::Value;

use super::EventKind;

fn text<'a>(detail: &'a Value, key: &str) -> Option<&'a str> {
    detail.get(key).and_then(Value::as_str)
}

fn count(detail: &Value, key: &str) -> Option<u64> {
    detail.get(key).and_then(Value::as_u64)
}

/// "1 other session" / "3 other sessions".
fn sessions(n: u64, other: bool) -> String {
    let other = if other { "other " } else { "" };
    match n {
        1 => format!("1 {other}session"),
        n => format!("{n} {other}sessions"),
    }
}

/// A provider's name as written in a sentence: `github` → `Github`.
fn provider(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// How a sign-in (or failed attempt) was made, as the end of a sentence.
fn method(method: Option<&str>) -> Option<String> {
    let method = method?;
    if let Some((first, second)) = method.split_once(" + ") {
        let second = match second {
            "authenticator app" => "an authenticator app code",
            "recovery code" => "a recovery code",
            "passkey" => "a passkey",
            other => other,
        };
        return Some(format!("{} and {second}", self::method(Some(first))?));
    }
    Some(match method {
        "password" => "with a password".to_owned(),
        "sign-up" => "on creating the account".to_owned(),
        "second factor" => "with a two-factor code".to_owned(),
        "token endpoint" => "from a script, for an API token".to_owned(),
        "token endpoint, second factor" => {
            "from a script, for an API token, with a two-factor code".to_owned()
        }
        "API" => "through the API".to_owned(),
        "passkey" => "with a passkey".to_owned(),
        other => format!("with {}", provider(other)),
    })
}

pub fn sentence(kind: EventKind, detail: &Value) -> String {
    let by = text(detail, "by");
    match kind {
        EventKind::SignIn | EventKind::SignInFailed => match method(text(detail, "method")) {
            Some(how) => format!("{} {how}", kind.label()),
            None => kind.label().to_owned(),
        },
        EventKind::SessionRevoked => match text(detail, "method") {
            Some("API") => "Session ended through the API".to_owned(),
            Some("token revocation") => "Session ended by revoking its token".to_owned(),
            _ if text(detail, "reason") == Some("refresh_token_reused") => {
                "Session ended: a refresh token was presented a second time".to_owned()
            }
            _ => "Session ended".to_owned(),
        },
        EventKind::PasswordChanged => match count(detail, "other_sessions_ended") {
            Some(n) if n > 0 => format!("Password changed, which ended {}", sessions(n, true)),
            _ => "Password changed".to_owned(),
        },
        EventKind::OtherSessionsRevoked => match count(detail, "ended") {
            Some(n) => format!("Ended {}", sessions(n, true)),
            None => kind.label().to_owned(),
        },
        EventKind::ApiKeyCreated | EventKind::ApiKeyRevoked => {
            let verb = if kind == EventKind::ApiKeyCreated {
                "Created"
            } else {
                "Revoked"
            };
            let name = text(detail, "name").unwrap_or("unnamed");
            let key = text(detail, "key").map_or_else(String::new, |key| format!(" ({key}…)"));
            let scopes = text(detail, "scopes").map_or_else(String::new, |s| {
                format!(", allowed to {}", s.replace(' ', " and "))
            });
            format!("{verb} the API key “{name}”{key}{scopes}")
        }
        EventKind::PasskeyAdded | EventKind::PasskeyRemoved => {
            let name = text(detail, "name").unwrap_or("unnamed");
            match (kind, by) {
                (EventKind::PasskeyAdded, _) => format!("Added the passkey “{name}”"),
                (_, Some(by)) => format!("{by} removed the passkey “{name}”"),
                _ => format!("Removed the passkey “{name}”"),
            }
        }
        EventKind::AccountLinked | EventKind::AccountUnlinked => {
            let verb = if kind == EventKind::AccountLinked {
                "Linked"
            } else {
                "Unlinked"
            };
            let name = text(detail, "provider").map_or_else(|| "a provider".to_owned(), provider);
            match text(detail, "login") {
                Some(login) => format!("{verb} the {name} account {login}"),
                None => format!("{verb} the {name} account"),
            }
        }
        EventKind::AccountDeleted => match text(detail, "account") {
            Some(account) => format!("Deleted the account {account}"),
            None => kind.label().to_owned(),
        },
        EventKind::EmailChangeRequested => match text(detail, "to") {
            Some(to) => format!("Asked to change the email address to {to}"),
            None => kind.label().to_owned(),
        },
        EventKind::EmailChanged => match (text(detail, "from"), text(detail, "to")) {
            (Some(from), Some(to)) => format!("Email address changed from {from} to {to}"),
            _ => kind.label().to_owned(),
        },
        EventKind::TwoFactorResetByStaff => match by {
            Some(by) => {
                format!("{by} turned off two-factor authentication and ended every session")
            }
            None => kind.label().to_owned(),
        },
        EventKind::TwoFactorResetOfAccount => match text(detail, "account") {
            Some(account) => {
                format!("Turned off two-factor authentication of the account {account}")
            }
            None => kind.label().to_owned(),
        },
        EventKind::RolesChanged => {
            let mut roles = Vec::new();
            if detail.get("member").and_then(Value::as_bool) == Some(true) {
                roles.push("member");
            }
            if detail.get("staff").and_then(Value::as_bool) == Some(true) {
                roles.push("staff");
            }
            let roles = if roles.is_empty() {
                "no special roles".to_owned()
            } else {
                roles.join(" and ")
            };
            match by {
                Some(by) => format!("{by} changed the roles to {roles}"),
                None => format!("Roles changed to {roles}"),
            }
        }
        EventKind::AllSessionsRevokedByStaff => {
            let ended = count(detail, "sessions_ended")
                .map_or_else(|| "all sessions".to_owned(), |n| sessions(n, false));
            match by {
                Some(by) => format!("{by} ended {ended}"),
                None => format!("Staff ended {ended}"),
            }
        }
        _ => match by {
            Some(by) => format!("{} by {by}", kind.label()),
            None => kind.label().to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::sentence;
    use crate::security_log::EventKind;

    #[test]
    fn details_read_as_sentences() {
        let cases = [
            (
                EventKind::SignIn,
                json!({ "method": "sign-up" }),
                "Signed in on creating the account",
            ),
            (
                EventKind::SignIn,
                json!({ "method": "github" }),
                "Signed in with Github",
            ),
            (
                EventKind::SignIn,
                json!({ "method": "password + recovery code" }),
                "Signed in with a password and a recovery code",
            ),
            (
                EventKind::SignInFailed,
                json!({ "method": "password" }),
                "Failed sign-in attempt with a password",
            ),
            (
                EventKind::SessionRevoked,
                json!({ "session": "5d2c8f1e-uuid" }),
                "Session ended",
            ),
            (
                EventKind::PasswordChanged,
                json!({ "other_sessions_ended": 0 }),
                "Password changed",
            ),
            (
                EventKind::PasswordChanged,
                json!({ "other_sessions_ended": 1 }),
                "Password changed, which ended 1 other session",
            ),
            (
                EventKind::OtherSessionsRevoked,
                json!({ "ended": 1 }),
                "Ended 1 other session",
            ),
            (
                EventKind::ApiKeyCreated,
                json!({ "name": "ci", "key": "gk_ab12", "scopes": "read write" }),
                "Created the API key “ci” (gk_ab12…), allowed to read and write",
            ),
            (
                EventKind::PasskeyRemoved,
                json!({ "by": "root", "name": "Laptop" }),
                "root removed the passkey “Laptop”",
            ),
            (
                EventKind::SignIn,
                json!({ "method": "password + passkey" }),
                "Signed in with a password and a passkey",
            ),
            (
                EventKind::RolesChanged,
                json!({ "by": "root", "member": true, "staff": false }),
                "root changed the roles to member",
            ),
            (
                EventKind::AllSessionsRevokedByStaff,
                json!({ "by": "root", "sessions_ended": 2 }),
                "root ended 2 sessions",
            ),
            (
                EventKind::AccountDeleted,
                json!({ "account": "target" }),
                "Deleted the account target",
            ),
            (
                EventKind::EmailChanged,
                json!({ "from": "a@example.com", "to": "b@example.com" }),
                "Email address changed from a@example.com to b@example.com",
            ),
            (
                EventKind::TwoFactorResetByStaff,
                json!({ "by": "root" }),
                "root turned off two-factor authentication and ended every session",
            ),
            (
                EventKind::TwoFactorResetOfAccount,
                json!({ "account": "target" }),
                "Turned off two-factor authentication of the account target",
            ),
        ];
        for (kind, detail, expected) in cases {
            assert_eq!(sentence(kind, &detail), expected);
        }
    }
}
