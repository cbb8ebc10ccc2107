//! Where a browser may be sent after a step (`next`): only a clean path
//! on this site, so no link can turn a sign-in or confirmation into a
//! redirect to another host.

/// `next` when it is a clean path on this site, else None. Browsers treat
/// `//x` and `/\x` as other hosts, so those are refused; so is anything
/// that is not already a valid URI reference (`ü`, `<`, `"`, `{`, `^`, a
/// backtick, `|`, a second `#`, a bad `%` escape), which could not be sent
/// back in a `Location` header.
pub fn safe_next(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2048
        && next
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%#".contains(&b))
        && next.matches('#').count() <= 1
        && percent_escapes_are_whole(next)
        && rocket::http::uri::Reference::parse(next).is_ok();
    local.then_some(next)
}

/// Every `%` starts a two-hex-digit escape.
fn percent_escapes_are_whole(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(at, &b)| {
        b != b'%'
            || bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        for good in [
            "/",
            "/account",
            "/account?tab=1",
            "/a/b#c",
            "/caf%C3%A9?q=a%20b&x=(1)",
        ] {
            assert_eq!(safe_next(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "account",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            " /account",
            "/a<b",
            "/ü",
            "/a\"b",
            "/a{b}",
            "/a^b",
            "/a`b",
            "/a|b",
            "/a#b#c",
            "/a%zz",
            "/a%4",
            "/a\0b",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }
}
