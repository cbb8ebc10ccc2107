//! The key format: `gk_` + 43 random base62 characters (256 bits) + a
//! 6-character base62 CRC32 of those 43, as GitHub's tokens carry. The
//! prefix makes a leaked key recognisable to secret scanners; the checksum
//! lets a mistyped or made-up key be refused before any database work.

use rand::RngExt as _;
use rand::distr::Alphanumeric;

pub const PREFIX: &str = "gk_";
const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
pub const KEY_LEN: usize = PREFIX.len() + BODY_LEN + CHECKSUM_LEN;
/// What the settings page shows of a key: enough to tell keys apart.
pub const DISPLAY_PREFIX_LEN: usize = 8;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly generated key: the full text (shown once) and what is stored.
pub struct NewKey {
    pub key: String,
    pub hash: String,
    pub prefix: String,
}

pub fn generate() -> NewKey {
    let body: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(BODY_LEN)
        .map(char::from)
        .collect();
    let key = format!("{PREFIX}{body}{}", checksum(&body));
    NewKey {
        hash: hash(&key),
        prefix: key[..DISPLAY_PREFIX_LEN].to_owned(),
        key,
    }
}

/// True when `key` has the right shape and checksum.
pub fn is_well_formed(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(PREFIX) else {
        return false;
    };
    if key.len() != KEY_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, sum) = rest.split_at(BODY_LEN);
    checksum(body) == sum
}

/// The stored form of a key: SHA-256, hex. A fast hash is right here: the
/// key has 256 random bits, so there is nothing to brute-force.
pub fn hash(key: &str) -> String {
    crate::crypto::sha256_hex(key.as_bytes())
}

fn checksum(body: &str) -> String {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.key.len(), KEY_LEN);
        assert!(a.key.starts_with("gk_"));
        assert!(is_well_formed(&a.key));
        assert_ne!(a.key, b.key);
        assert_eq!(a.prefix, &a.key[..8]);
        assert_eq!(a.hash.len(), 64);
        assert_ne!(a.hash, a.key);
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let key = generate().key;
        for position in [3, 20, KEY_LEN - 1] {
            let mut bytes = key.clone().into_bytes();
            bytes[position] = if bytes[position] == b'a' { b'b' } else { b'a' };
            assert!(
                !is_well_formed(&String::from_utf8(bytes).unwrap()),
                "{position}"
            );
        }
        assert!(!is_well_formed(&key[..KEY_LEN - 1]));
        assert!(!is_well_formed(&format!("{key}0")));
        assert!(!is_well_formed(&key.replacen("gk_", "gh_", 1)));
        assert!(!is_well_formed(""));
    }
}
