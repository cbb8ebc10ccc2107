//! The account forms and the parsed types behind their fields. Forms take
//! raw strings (missing fields are empty, unknown fields such as
//! `is_staff` are ignored); handlers parse them into [`Username`],
//! [`Email`] and [`Password`](super::password::Password) at the boundary.

use rocket::form::FromForm;
use unicode_normalization::UnicodeNormalization as _;

/// 3 to 32 of `[A-Za-z0-9_.-]`, kept in the case typed; unique ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Username, String> {
        let valid_chars = input
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !(3..=32).contains(&input.len()) || !valid_chars {
            return Err("Use 3 to 32 letters, digits, '_', '.' or '-'.".to_owned());
        }
        Ok(Username(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An address of the usual `local@domain.tld` shape, trimmed, at most 254
/// characters. Deliverability is not checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, String> {
        // Stored in NFC, so the composed and decomposed spellings of one
        // address are one address (and meet the same unique index).
        let normalized: String = input.trim().nfc().collect();
        let input = normalized.as_str();
        let invalid = || Err("Enter a valid email address.".to_owned());
        if input.is_empty() || input.chars().count() > 254 {
            return invalid();
        }
        let Some((local, domain)) = input.rsplit_once('@') else {
            return invalid();
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| {
                !c.is_whitespace()
                    && !c.is_control()
                    && !is_invisible(c)
                    && !"@<>()[]\\,;:\"".contains(c)
            });
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.chars().count() >= 2);
        if !(local_ok && domain_ok) {
            return invalid();
        }
        Ok(Email(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that show as nothing (zero-width spaces and joiners,
/// direction marks, soft hyphens, variation selectors, byte order marks,
/// tags): an address holding one looks like another address.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{E0000}'..='\u{E0FFF}')
}

#[derive(FromForm)]
pub struct SignupForm<'r> {
    #[field(default = "")]
    pub username: &'r str,
    #[field(default = "")]
    pub email: &'r str,
    #[field(default = "")]
    pub password: &'r str,
}

#[derive(FromForm)]
pub struct LoginForm<'r> {
    /// Username or email.
    #[field(default = "")]
    pub login: &'r str,
    #[field(default = "")]
    pub password: &'r str,
    #[field(default = false)]
    pub remember: bool,
    #[field(default = "")]
    pub next: &'r str,
}

/// `POST /account/email`.
#[derive(FromForm)]
pub struct ChangeEmailForm<'r> {
    #[field(default = "")]
    pub email: &'r str,
    #[field(default = "")]
    pub password: &'r str,
}

/// `POST /account/delete`: the password and the username typed out.
#[derive(FromForm)]
pub struct DeleteAccountForm<'r> {
    #[field(default = "")]
    pub password: &'r str,
    #[field(default = "")]
    pub confirm: &'r str,
}

#[derive(FromForm)]
pub struct ChangePasswordForm<'r> {
    #[field(default = "")]
    pub current_password: &'r str,
    #[field(default = "")]
    pub new_password: &'r str,
    /// Also revoke every API key of the account.
    #[field(default = false)]
    pub revoke_api_keys: bool,
}

#[derive(FromForm)]
pub struct ForgotPasswordForm<'r> {
    #[field(default = "")]
    pub email: &'r str,
}

#[derive(FromForm)]
pub struct ResetPasswordForm<'r> {
    #[field(default = "")]
    pub new_password: &'r str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_short_plain_words() {
        for good in ["bob", "Alice_1", "a.b-c", &"x".repeat(32)] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ab",
            &"x".repeat(33),
            "has space",
            "émile",
            "a@b",
            "<script>",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_have_a_local_part_and_a_dotted_domain() {
        assert_eq!(
            Email::parse("  Ann@Example.com ").unwrap().as_str(),
            "Ann@Example.com"
        );
        for good in ["a@b.co", "first.last+tag@sub.example.org", "ü@bücher.de"] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "a@-example.com",
            "a@example.c",
            ".a@example.com",
            "a..b@example.com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
