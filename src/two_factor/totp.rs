//! TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of skew
//! either way) and the encryption of its secrets at rest.
//!
//! Secrets are 160 random bits. In the database they are AES-256-GCM
//! ciphertexts under a key derived from `secret_key` for this purpose,
//! with the user's id as associated data, so a ciphertext copied to
//! another user's row does not decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::config::AppConfig;

const KEY_LABEL: &str = "gatehouse/totp-secrets/v1";
pub const STEP_SECONDS: u64 = 30;
const DIGITS: u8 = 6;
const SKEW: u64 = 1;

/// A TOTP secret in the clear: only ever in memory, never printed.
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub fn generate() -> TotpSecret {
        TotpSecret(rand::random::<[u8; 20]>().to_vec())
    }

    /// For manual entry in an authenticator app.
    pub fn base32(&self) -> String {
        Secret::from(self.0.clone()).to_base32()
    }

    fn totp(&self, issuer: &str, account: &str) -> Option<Totp> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW as u16)
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.0.clone())
            .with_issuer(Some(issuer.replace(':', "")))
            .with_account_name(account.replace(':', ""))
            .build()
            .ok()
    }

    /// The `otpauth://totp/<issuer>:<account>?secret=..&issuer=..` URI an
    /// authenticator app reads from the QR code.
    pub fn uri(&self, issuer: &str, account: &str) -> Option<String> {
        self.totp(issuer, account)?.to_url().ok()
    }

    /// The time step `code` is valid for at unix time `now` (the current
    /// step or one either side), compared in constant time. Replay is the
    /// caller's to refuse: accept a step only if it is newer than the last.
    pub fn matching_step(&self, code: &str, now: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp("Gatehouse", "user")?;
        let current = now / STEP_SECONDS;
        let mut matched = None;
        for step in current.saturating_sub(SKEW)..=current + SKEW {
            let expected = totp.generate(step * STEP_SECONDS).to_string();
            if crate::crypto::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
                matched = Some(step);
            }
        }
        matched
    }
}

fn cipher(config: &AppConfig) -> Aes256Gcm {
    Aes256Gcm::new(&config.derive_key(KEY_LABEL).into())
}

/// `base64(nonce || ciphertext)`, bound to `user_id`.
pub fn seal(config: &AppConfig, user_id: i32, secret: &TotpSecret) -> String {
    let nonce: [u8; 12] = rand::random();
    let aad = user_id.to_be_bytes();
    let ciphertext = cipher(config)
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &secret.0,
                aad: &aad,
            },
        )
        .expect("AES-GCM encryption does not fail for short messages");
    let mut sealed = nonce.to_vec();
    sealed.extend(ciphertext);
    STANDARD.encode(sealed)
}

/// The secret sealed for `user_id`, or None if it was tampered with, made
/// under another key, or moved from another user's row.
pub fn open(config: &AppConfig, user_id: i32, sealed: &str) -> Option<TotpSecret> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let aad = user_id.to_be_bytes();
    cipher(config)
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .ok()
        .map(TotpSecret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, with its 20-byte ASCII secret and 8 digits.
    #[test]
    fn rfc_6238_sha1_test_vectors() {
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(8)
            .with_step_duration(30)
            .with_secret(b"12345678901234567890".to_vec())
            .build()
            .unwrap();
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), expected, "T={time}");
        }
    }

    /// The same vectors through the check sign-in uses: six digits are the
    /// last six of the eight, as both truncate one HMAC-derived number.
    #[test]
    fn the_sign_in_check_meets_the_rfc_6238_vectors() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        for (time, expected) in [
            (59_u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let code = &expected[2..];
            assert_eq!(
                secret.matching_step(code, time),
                Some(time / 30),
                "T={time}"
            );
            // A step (30 s) away is skew; two steps away is not.
            assert_eq!(secret.matching_step(code, time + 30), Some(time / 30));
            assert_eq!(secret.matching_step(code, time + 60), None, "T={time}+60");
            assert_eq!(secret.matching_step(expected, time), None, "8 digits");
        }
    }

    #[test]
    fn codes_match_their_step_and_one_step_either_side() {
        let secret = TotpSecret::generate();
        let totp = secret.totp("Gatehouse", "user").unwrap();
        let now = 1_800_000_000;
        let code_at = |t: u64| totp.generate(t).to_string();
        let step = now / 30;
        assert_eq!(secret.matching_step(&code_at(now), now), Some(step));
        assert_eq!(
            secret.matching_step(&code_at(now - 30), now),
            Some(step - 1)
        );
        assert_eq!(
            secret.matching_step(&code_at(now + 30), now),
            Some(step + 1)
        );
        assert_eq!(secret.matching_step(&code_at(now - 60), now), None);
        assert_eq!(secret.matching_step(&code_at(now + 60), now), None);
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
    }

    #[test]
    fn sealed_secrets_open_only_for_their_user_and_key() {
        let figment = crate::config::bare_figment(rocket::figment::Profile::Default)
            .merge(("secret_key", "ab".repeat(32)));
        let config = AppConfig::from_figment(&figment).unwrap();
        let other =
            AppConfig::from_figment(&figment.clone().merge(("secret_key", "cd".repeat(32))))
                .unwrap();
        let secret = TotpSecret::generate();
        let sealed = seal(&config, 7, &secret);
        assert!(!sealed.contains(&secret.base32()));
        assert_eq!(open(&config, 7, &sealed).unwrap().0, secret.0);
        assert!(open(&config, 8, &sealed).is_none(), "another user's row");
        assert!(open(&other, 7, &sealed).is_none(), "another key");
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        tampered[20] ^= 1;
        assert!(open(&config, 7, &STANDARD.encode(tampered)).is_none());
        assert_ne!(seal(&config, 7, &secret), sealed, "a fresh nonce each time");
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let secret = TotpSecret::generate();
        let uri = secret.uri("Gatehouse", "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/Gatehouse:alice?"));
        assert!(uri.contains(&format!("secret={}", secret.base32())));
        assert!(uri.contains("issuer=Gatehouse"));
    }
}
