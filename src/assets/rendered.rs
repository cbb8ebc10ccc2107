//! Pages rendered before, kept by template and context. Rendering is a
//! pure function of the two as long as no template reads the clock, a
//! random number or the environment, so a page asked for again with an
//! identical context is answered with the HTML it gave last time, without
//! Tera (about half of a signed-in page's CPU). Keys are compared whole,
//! so a page is only ever given for the very context it was made from,
//! CSRF token and all. Nothing needs forgetting: a change to what a page
//! shows changes its context, and so its key.
//!
//! Only pages that show no secret are kept (those the web layer renders
//! with `render_again`), and nothing is kept when a template (a site's
//! own, from `template_dir`) calls one of Tera's impure functions.

use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many pages are kept; when full, all are forgotten at once
/// (cheaper than tracking age, and the next views make them again).
const CAPACITY: usize = 256;
/// A page larger than this is not kept (a long admin list).
const MAX_PAGE_BYTES: usize = 64 * 1024;

/// Tera's built-in functions whose result is not fixed by their arguments.
const IMPURE_FUNCTIONS: [&str; 3] = ["now", "get_random", "get_env"];

#[derive(Default)]
pub struct RenderedPages {
    /// (template, context as JSON) -> HTML
    pages: Mutex<HashMap<(&'static str, Vec<u8>), String>>,
}

impl RenderedPages {
    /// The page kept for `template` and `context`, if any.
    pub fn get(&self, template: &'static str, context: Vec<u8>) -> Result<String, Key> {
        let key = (template, context);
        let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        match pages.get(&key) {
            Some(html) => Ok(html.clone()),
            None => Err(Key(key)),
        }
    }

    /// Keeps `html`, rendered for `key`.
    pub fn keep(&self, Key(key): Key, html: &str) {
        if html.len() > MAX_PAGE_BYTES {
            return;
        }
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= CAPACITY {
            pages.clear();
        }
        pages.insert(key, html.to_owned());
    }
}

/// What a page missing from [`RenderedPages`] is to be kept under.
pub struct Key((&'static str, Vec<u8>));

/// Whether every template's output is fixed by its context: none calls a
/// clock, random or environment function.
pub fn all_pure<'s>(sources: impl IntoIterator<Item = &'s str>) -> bool {
    sources.into_iter().all(|source| {
        IMPURE_FUNCTIONS.iter().all(|name| {
            source
                .match_indices(name)
                .all(|(at, _)| !source[at + name.len()..].trim_start().starts_with('('))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_given_only_for_the_context_it_was_made_from() {
        let pages = RenderedPages::default();
        let context = br#"{"csrf_token":"a","user":"alice"}"#;
        let Err(key) = pages.get("accounts/account", context.to_vec()) else {
            panic!("nothing is kept yet");
        };
        pages.keep(key, "<p>alice</p>");
        assert_eq!(
            pages
                .get("accounts/account", context.to_vec())
                .ok()
                .as_deref(),
            Some("<p>alice</p>")
        );
        assert!(
            pages
                .get(
                    "accounts/account",
                    br#"{"csrf_token":"b","user":"alice"}"#.to_vec()
                )
                .is_err()
        );
        assert!(pages.get("home", context.to_vec()).is_err());
    }

    #[test]
    fn a_full_memo_starts_again_and_large_pages_are_not_kept() {
        let pages = RenderedPages::default();
        for i in 0..=CAPACITY {
            let key = pages.get("home", i.to_string().into_bytes()).unwrap_err();
            pages.keep(key, "x");
        }
        assert!(
            pages.get("home", b"0".to_vec()).is_err(),
            "forgotten when full"
        );
        assert!(pages.get("home", CAPACITY.to_string().into_bytes()).is_ok());
        let key = pages.get("home", b"big".to_vec()).unwrap_err();
        pages.keep(key, &"x".repeat(MAX_PAGE_BYTES + 1));
        assert!(pages.get("home", b"big".to_vec()).is_err());
    }

    #[test]
    fn templates_that_read_the_clock_randomness_or_environment_are_impure() {
        assert!(all_pure([
            "{{ user.username }} {{ static_url(path=\"a\") }}",
            "Right now, nothing"
        ]));
        for impure in [
            "{{ now() }}",
            "{{ now (utc=true) }}",
            "{{ get_random(end=10) }}",
            "{{ get_env(name=\"HOME\") }}",
        ] {
            assert!(!all_pure(["plain", impure]), "{impure}");
        }
        assert!(
            all_pure(
                crate::assets::template_sources(None)
                    .unwrap()
                    .values()
                    .map(String::as_str)
            ),
            "Gatehouse's own templates are pure"
        );
    }
}
