//! Passwords: the [`Password`] secret type, the policy for new ones, and
//! argon2id hashing, always on a blocking thread so a burst of sign-ins
//! cannot stall the async workers.

use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use rocket::tokio::task::spawn_blocking;

use crate::config::Argon2Settings;

pub const MIN_LENGTH: usize = 8;
/// Longer input is refused before hashing: argon2 cost grows with it.
pub const MAX_LENGTH: usize = 1024;
/// zxcvbn's matching grows quickly with length; a long password's strength
/// is judged on its start, which is where weak patterns show.
const STRENGTH_PREFIX: usize = 64;

/// A password as typed. Never printed: its `Debug` says only that it is one.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// A password offered to sign in: anything non-empty within the limit.
    pub fn for_sign_in(input: &str) -> Option<Password> {
        (!input.is_empty() && input.chars().count() <= MAX_LENGTH)
            .then(|| Password(input.to_owned()))
    }

    /// A new password: 8 to 1024 characters. The rest of the policy, which
    /// needs the username and email, is [`check_new_password`].
    pub fn parse_new(input: &str) -> Result<Password, String> {
        let length = input.chars().count();
        if length < MIN_LENGTH {
            Err(format!("Use at least {MIN_LENGTH} characters."))
        } else if length > MAX_LENGTH {
            Err(format!("Use at most {MAX_LENGTH} characters."))
        } else {
            Ok(Password(input.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Refuses a new password that is the username or email, or one zxcvbn
/// rates as guessable in under a million tries: every entry of its common
/// password list (30,000 deep) and simple keyboard, date and repeat
/// patterns. CPU-bound, so it runs on a blocking thread.
pub async fn check_new_password(
    password: &Password,
    username: &str,
    email: &str,
) -> Result<(), String> {
    let (password, username, email) = (password.clone(), username.to_owned(), email.to_owned());
    spawn_blocking(move || policy(&password, &username, &email))
        .await
        .unwrap_or_else(|_| Err("The password could not be checked. Try again.".to_owned()))
}

fn policy(password: &Password, username: &str, email: &str) -> Result<(), String> {
    let lowered = password.0.to_lowercase();
    let email_name = email.split('@').next().unwrap_or(email);
    if [username, email, email_name]
        .iter()
        .any(|input| !input.is_empty() && lowered == input.to_lowercase())
    {
        return Err("The password must not be your username or email.".to_owned());
    }
    let prefix: String = password.0.chars().take(STRENGTH_PREFIX).collect();
    let entropy = zxcvbn::zxcvbn(&prefix, &[username, email, email_name]);
    if entropy.score() < zxcvbn::Score::Two {
        return Err(
            "This password is too common or too easy to guess. Try a longer phrase of unrelated words."
                .to_owned(),
        );
    }
    Ok(())
}

/// argon2id with the configured cost, and a hash of a random password to
/// verify against when there is no user: an unknown name then costs the
/// same time as a wrong password.
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    dummy_hash: String,
}

impl PasswordHasher {
    /// Builds the hasher; computes one hash, so call it off the executor.
    pub fn new(settings: Argon2Settings) -> Result<PasswordHasher, argon2::Error> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let random: [u8; 16] = rand::random();
        let dummy_hash = hash_with(&argon2, &format!("{random:?}"))
            .map_err(|_| argon2::Error::OutputTooShort)?;
        Ok(PasswordHasher { argon2, dummy_hash })
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let (argon2, password) = (self.argon2.clone(), password.clone());
        spawn_blocking(move || hash_with(&argon2, password.expose()))
            .await?
            .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
    }

    /// True when `password` matches `stored`. With no stored hash (no such
    /// user, or an OAuth-only account) the dummy is checked, and the
    /// answer is false either way.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> bool {
        let argon2 = self.argon2.clone();
        let password = password.clone();
        let (phc, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let matched = spawn_blocking(move || {
            PasswordHash::new(&phc).is_ok_and(|parsed| {
                argon2
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        matched && real
    }

    /// True when `stored` was made with other parameters than the current
    /// ones, so it should be replaced after a successful sign-in.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        match Params::try_from(&parsed) {
            Ok(params) => {
                let current = self.argon2.params();
                parsed.algorithm.as_str() != "argon2id"
                    || params.m_cost() != current.m_cost()
                    || params.t_cost() != current.t_cost()
                    || params.p_cost() != current.p_cost()
            }
            Err(_) => true,
        }
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(argon2.hash_password(password.as_bytes())?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast_hasher() -> PasswordHasher {
        PasswordHasher::new(Argon2Settings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn length_limits_are_enforced_in_characters() {
        assert!(Password::parse_new("short").is_err());
        assert!(Password::parse_new("ééééééé").is_err());
        assert!(Password::parse_new(&"x".repeat(1024)).is_ok());
        assert!(Password::parse_new(&"x".repeat(1025)).is_err());
        assert!(Password::for_sign_in(&"x".repeat(1025)).is_none());
        assert!(Password::for_sign_in("").is_none());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let password = Password::parse_new("hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        for common in [
            "password",
            "password1",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "aaaaaaaa",
            "P@ssw0rd",
        ] {
            let password = Password::parse_new(common).unwrap();
            assert!(
                policy(&password, "alice", "alice@example.com").is_err(),
                "{common}"
            );
        }
        let own_name = Password::parse_new("Alice_Wonder").unwrap();
        assert!(policy(&own_name, "alice_wonder", "a@example.com").is_err());
        let own_email = Password::parse_new("alice@example.com").unwrap();
        assert!(policy(&own_email, "bob", "alice@example.com").is_err());
    }

    #[test]
    fn a_passphrase_is_accepted() {
        let password = Password::parse_new("correct horse battery staple").unwrap();
        assert!(policy(&password, "alice", "alice@example.com").is_ok());
        let long = Password::parse_new(&"Tr0ub4dor&3-".repeat(80)).unwrap();
        assert!(policy(&long, "alice", "alice@example.com").is_ok());
    }

    #[rocket::async_test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = fast_hasher();
        let password = Password::parse_new("correct horse battery staple").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify(&password, Some(&hash)).await);
        let wrong = Password::for_sign_in("correct horse battery stapler").unwrap();
        assert!(!hasher.verify(&wrong, Some(&hash)).await);
        assert!(!hasher.verify(&password, None).await);
        assert!(!hasher.needs_rehash(&hash));
    }

    #[rocket::async_test]
    async fn hashes_with_other_parameters_need_a_rehash() {
        let hash = fast_hasher()
            .hash(&Password::parse_new("correct horse battery staple").unwrap())
            .await
            .unwrap();
        let default_hasher = PasswordHasher::new(Argon2Settings::default()).unwrap();
        assert!(default_hasher.needs_rehash(&hash));
    }
}
