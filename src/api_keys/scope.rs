//! What a token or key may do: `read` (GET and HEAD) and `write`
//! (everything else). Written space-separated, as OAuth's `scope` is.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Scopes {
    pub read: bool,
    pub write: bool,
}

impl Scopes {
    pub const ALL: Scopes = Scopes {
        read: true,
        write: true,
    };

    /// Parses `"read write"` and the like; None for an unknown scope, a
    /// repeat, or nothing at all.
    pub fn parse(text: &str) -> Option<Scopes> {
        Scopes::from_names(text.split_ascii_whitespace())
    }

    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Scopes> {
        let mut scopes = Scopes::default();
        for name in names {
            let slot = match name {
                "read" => &mut scopes.read,
                "write" => &mut scopes.write,
                _ => return None,
            };
            if *slot {
                return None;
            }
            *slot = true;
        }
        (scopes.read || scopes.write).then_some(scopes)
    }

    /// Whether a request with this HTTP method is allowed: reading with
    /// either scope, changing only with `write`.
    pub fn allow(self, method: rocket::http::Method) -> bool {
        use rocket::http::Method::{Get, Head, Options};
        match method {
            Get | Head | Options => self.read || self.write,
            _ => self.write,
        }
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.read, self.write) {
            (true, true) => f.write_str("read write"),
            (true, false) => f.write_str("read"),
            (false, true) => f.write_str("write"),
            (false, false) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::Method;

    #[test]
    fn scopes_parse_and_print() {
        assert_eq!(Scopes::parse("read write"), Some(Scopes::ALL));
        assert_eq!(Scopes::parse(" write  read "), Some(Scopes::ALL));
        assert_eq!(Scopes::parse("read").unwrap().to_string(), "read");
        for bad in ["", "admin", "read read", "read,write", "READ"] {
            assert_eq!(Scopes::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn read_allows_only_safe_methods() {
        let read = Scopes::parse("read").unwrap();
        assert!(read.allow(Method::Get) && read.allow(Method::Head));
        assert!(!read.allow(Method::Delete) && !read.allow(Method::Post));
        assert!(Scopes::ALL.allow(Method::Delete));
    }
}
