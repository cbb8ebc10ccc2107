//! Recovery codes: ten per set, `xxxx-xxxx-xxxx` from a 32-letter alphabet
//! (60 random bits), shown once, stored as HMAC-SHA256 under a key derived
//! from `secret_key`: a stolen table cannot be brute-forced offline.

use rand::RngExt as _;

use crate::config::AppConfig;
use crate::crypto;

const KEY_LABEL: &str = "gatehouse/recovery-codes/v1";
/// Without 0/o, 1/l/i look-alikes beyond what typing mistakes can fix.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
pub const CODES_PER_SET: usize = 10;
const GROUPS: usize = 3;
const GROUP_LEN: usize = 4;

pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..GROUPS)
        .map(|_| {
            (0..GROUP_LEN)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The code as typed, made comparable: lower case, without dashes or
/// spaces; None if it cannot be a recovery code.
pub fn normalize(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            // Letters the alphabet leaves out are read as the digits they
            // look like.
            'i' | 'l' => '1',
            'o' => '0',
            other => other,
        })
        .collect();
    (code.len() == GROUPS * GROUP_LEN && code.bytes().all(|b| ALPHABET.contains(&b)))
        .then_some(code)
}

/// The stored form of a normalized code.
pub fn hash(config: &AppConfig, normalized: &str) -> String {
    let key = config.derive_key(KEY_LABEL);
    crypto::hex(&crypto::hmac_sha256(&key, &[normalized.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_look_right_and_normalize() {
        let code = generate();
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        assert_eq!(normalize(&code).unwrap().len(), 12);
        assert_eq!(
            normalize(" ABCD-efgh-jkmn "),
            Some("abcdefghjkmn".to_owned())
        );
        assert_eq!(normalize("abcd-efgh-jkoi"), Some("abcdefghjk01".to_owned()));
        assert_eq!(normalize("abcd-efgh"), None);
        assert_eq!(
            normalize("123456"),
            None,
            "a TOTP code is not a recovery code"
        );
        assert_ne!(generate(), generate());
    }
}
