//! The one rule every text input passes before anything else reads it: no
//! control characters. NUL in particular is refused by PostgreSQL's text
//! type (a 500 if it got that far) and stored as-is by SQLite; tabs, line
//! breaks, escapes and C1 controls have no place in a username, password,
//! name or search either (no form of the app has a multi-line field).

/// True when `input` holds a control character (Unicode `Cc`: C0, DEL, C1).
pub fn has_control(input: &str) -> bool {
    input.chars().any(char::is_control)
}

/// A `?q=` search as typed: trimmed, at most 254 bytes (the longest
/// email), no control characters; else the sentence to answer with 400.
pub fn search_query(q: Option<&str>) -> Result<&str, &'static str> {
    // Checked before trimming: some controls (U+0085) count as whitespace.
    let query = q.unwrap_or("");
    if has_control(query) {
        Err("The search text contains a control character.")
    } else if query.trim().len() > 254 {
        Err("The search text is too long.")
    } else {
        Ok(query.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::has_control;

    #[test]
    fn control_characters_are_found_anywhere() {
        for bad in [
            "a\0b",
            "\0",
            "tab\there",
            "line\n",
            "\r",
            "\u{1b}[31m",
            "\u{7f}",
            "\u{85}",
        ] {
            assert!(has_control(bad), "{bad:?}");
        }
        for good in ["", "alice", "pässwörd with spaces", "名前", "emoji 🔑"] {
            assert!(!has_control(good), "{good:?}");
        }
    }
}
