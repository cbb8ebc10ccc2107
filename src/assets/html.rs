//! The pages' repeated pieces of HTML, as Tera functions written in Rust:
//! `csrf_field`, `field`, `error_summary` and `settings_nav`. They were Tera
//! macros; each macro call builds a frame and walks its template, and the
//! account page made a dozen of them, a fifth of its rendering time. Every
//! value is escaped here, so the functions are safe to print unescaped.

use std::collections::HashMap;
use std::fmt::Write as _;

use rocket_dyn_templates::tera::{self, Function, Tera, Value};

/// Registers the functions on `tera`.
pub fn register(tera: &mut Tera) {
    tera.register_function("csrf_field", CsrfField);
    tera.register_function("field", Field);
    tera.register_function("error_summary", ErrorSummary);
    tera.register_function("settings_nav", SettingsNav);
}

type Args = HashMap<String, Value>;

/// A text argument, or `default` when it is absent or null.
fn text<'a>(args: &'a Args, name: &str, default: &'a str) -> tera::Result<&'a str> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(tera::Error::msg(format!(
            "`{name}` must be text, not {other}"
        ))),
    }
}

/// The text under `key` in the map argument `name`; empty when either is
/// absent.
fn entry<'a>(args: &'a Args, name: &str, key: &str) -> tera::Result<&'a str> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::Object(map)) => match map.get(key) {
            None | Some(Value::Null) => Ok(""),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(tera::Error::msg(format!(
                "`{name}.{key}` must be text, not {other}"
            ))),
        },
        Some(other) => Err(tera::Error::msg(format!(
            "`{name}` must be a map, not {other}"
        ))),
    }
}

fn flag(args: &Args, name: &str, default: bool) -> tera::Result<bool> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(tera::Error::msg(format!(
            "`{name}` must be true or false, not {other}"
        ))),
    }
}

fn number(args: &Args, name: &str) -> tera::Result<u64> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(value) => value
            .as_u64()
            .ok_or_else(|| tera::Error::msg(format!("`{name}` must be a count, not {value}"))),
    }
}

fn required<'a>(args: &'a Args, name: &str, function: &str) -> tera::Result<&'a str> {
    match args.get(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(tera::Error::msg(format!("{function} needs {name}=\"…\""))),
    }
}

/// Appends `text` to `html`, escaped as Tera escapes (`&<>"'/`).
fn push_escaped(html: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'', '/']) {
        html.push_str(&rest[..at]);
        html.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => "&#x2F;",
        });
        rest = &rest[at + 1..];
    }
    html.push_str(rest);
}

/// Appends ` name="value"`, the value escaped.
fn push_attribute(html: &mut String, name: &str, value: &str) {
    html.push(' ');
    html.push_str(name);
    html.push_str("=\"");
    push_escaped(html, value);
    html.push('"');
}

/// `csrf_field(token=…)`: the hidden CSRF input every POST form carries.
struct CsrfField;

impl Function for CsrfField {
    fn call(&self, args: &Args) -> tera::Result<Value> {
        let token = required(args, "token", "csrf_field")?;
        let mut html = String::with_capacity(64 + token.len());
        html.push_str(r#"<input type="hidden" name="csrf_token""#);
        push_attribute(&mut html, "value", token);
        html.push('>');
        Ok(Value::String(html))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// `field(name, label, type="text", value="", error="", autocomplete="off",
/// required=true, hint="", maxlength=0, id=name, inputmode="",
/// autofocus=false, errors={}, values={})`: a labelled input with its hint
/// and error, linked for screen readers. Without `error` (or `value`), the
/// entry of `errors` (or `values`) named by the field's id is used: a
/// form's maps passed whole cost Tera less than one lookup and `default`
/// filter per field. A password input is never given a value.
struct Field;

impl Function for Field {
    fn call(&self, args: &Args) -> tera::Result<Value> {
        let name = required(args, "name", "field")?;
        let label = required(args, "label", "field")?;
        let kind = text(args, "type", "text")?;
        let hint = text(args, "hint", "")?;
        let id = match text(args, "id", "")? {
            "" => name,
            id => id,
        };
        let value = match text(args, "value", "")? {
            "" => entry(args, "values", id)?,
            value => value,
        };
        let error = match text(args, "error", "")? {
            "" => entry(args, "errors", id)?,
            error => error,
        };

        let mut html = String::with_capacity(512);
        html.push_str(if error.is_empty() {
            r#"<div class="field"><label"#
        } else {
            r#"<div class="field has-error"><label"#
        });
        push_attribute(&mut html, "for", id);
        html.push('>');
        push_escaped(&mut html, label);
        html.push_str("</label>");
        if !hint.is_empty() {
            html.push_str(r#"<p class="hint" id=""#);
            push_escaped(&mut html, id);
            html.push_str(r#"-hint">"#);
            push_escaped(&mut html, hint);
            html.push_str("</p>");
        }
        if !error.is_empty() {
            html.push_str(r#"<p class="error" id=""#);
            push_escaped(&mut html, id);
            html.push_str(r#"-error"><span class="visually-hidden">Error: </span>"#);
            push_escaped(&mut html, error);
            html.push_str("</p>");
        }
        html.push_str("<input");
        push_attribute(&mut html, "id", id);
        push_attribute(&mut html, "name", name);
        push_attribute(&mut html, "type", kind);
        if !value.is_empty() && kind != "password" {
            push_attribute(&mut html, "value", value);
        }
        push_attribute(
            &mut html,
            "autocomplete",
            text(args, "autocomplete", "off")?,
        );
        let inputmode = text(args, "inputmode", "")?;
        if !inputmode.is_empty() {
            push_attribute(&mut html, "inputmode", inputmode);
        }
        let maxlength = number(args, "maxlength")?;
        if maxlength > 0 {
            push_attribute(&mut html, "maxlength", &maxlength.to_string());
        }
        if flag(args, "required", true)? {
            html.push_str(" required");
        }
        if flag(args, "autofocus", false)? {
            html.push_str(" autofocus");
        }
        if !error.is_empty() {
            html.push_str(r#" aria-invalid="true""#);
        }
        if !error.is_empty() || !hint.is_empty() {
            html.push_str(r#" aria-describedby=""#);
            if !error.is_empty() {
                push_escaped(&mut html, id);
                html.push_str("-error");
            }
            if !error.is_empty() && !hint.is_empty() {
                html.push(' ');
            }
            if !hint.is_empty() {
                push_escaped(&mut html, id);
                html.push_str("-hint");
            }
            html.push('"');
        }
        html.push_str("></div>");
        Ok(Value::String(html))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// `error_summary(errors, order)`: every problem of a form at its top, in
/// the order of its fields (`order`, the fields' ids, which are the
/// errors' keys), each linking to its field; nothing when there is none.
struct ErrorSummary;

impl Function for ErrorSummary {
    fn call(&self, args: &Args) -> tera::Result<Value> {
        let errors = args.get("errors").and_then(Value::as_object);
        let order = args
            .get("order")
            .and_then(Value::as_array)
            .ok_or_else(|| tera::Error::msg("error_summary needs order=[…]"))?;
        let problems: Vec<(&str, &str)> = order
            .iter()
            .filter_map(|key| {
                let key = key.as_str()?;
                let message = errors?.get(key)?.as_str()?;
                (!message.is_empty()).then_some((key, message))
            })
            .collect();
        if problems.is_empty() {
            return Ok(Value::String(String::new()));
        }
        let mut html = String::from(r#"<div class="error-summary" role="alert"><h2>"#);
        match problems.len() {
            1 => html.push_str("There is a problem"),
            count => {
                let _ = write!(html, "There are {count} problems");
            }
        }
        html.push_str("</h2><ul>");
        for (key, message) in problems {
            html.push_str(r##"<li><a href="#"##);
            push_escaped(&mut html, key);
            html.push_str(r#"">"#);
            push_escaped(&mut html, message);
            html.push_str("</a></li>");
        }
        html.push_str("</ul></div>");
        Ok(Value::String(html))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// The settings pages, in the navigation's order: (`current` key, link, text).
const SETTINGS_PAGES: [(&str, &str, &str); 9] = [
    ("profile", "/account", "Profile and email"),
    ("password", "/account#password-heading", "Password"),
    ("two-factor", "/account/2fa", "Two-factor"),
    ("passkeys", "/account/passkeys", "Passkeys"),
    ("sessions", "/account/sessions", "Sessions"),
    ("linked", "/account/linked", "Linked accounts"),
    ("api-keys", "/account/api-keys", "API keys"),
    ("security", "/account/security", "Security log"),
    ("", "/account#delete-account", "Delete account"),
];

/// `settings_nav(current, providers=0)`: the settings pages' navigation (a
/// sidebar on wide screens, a list at the top on phones), marking the
/// `current` page; "Linked accounts" only when a provider is configured.
struct SettingsNav;

impl Function for SettingsNav {
    fn call(&self, args: &Args) -> tera::Result<Value> {
        let current = text(args, "current", "")?;
        let providers = number(args, "providers")?;
        let mut html = String::with_capacity(1024);
        html.push_str(r#"<nav class="settings-nav" aria-label="Account settings"><ul>"#);
        for (key, link, label) in SETTINGS_PAGES {
            if key == "linked" && providers == 0 {
                continue;
            }
            html.push_str(r#"<li><a href=""#);
            html.push_str(link);
            html.push('"');
            if !key.is_empty() && key == current {
                html.push_str(r#" aria-current="page""#);
            }
            html.push('>');
            html.push_str(label);
            html.push_str("</a></li>");
        }
        html.push_str("</ul></nav>");
        Ok(Value::String(html))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, context: serde_json::Value) -> String {
        let mut tera = Tera::default();
        register(&mut tera);
        tera.add_raw_template("page.html", source).unwrap();
        let context = tera::Context::from_value(context).unwrap();
        tera.render("page.html", &context).unwrap()
    }

    #[test]
    fn a_field_escapes_every_value_and_links_its_error_and_hint() {
        let html = render(
            r#"{{ field(name="email", label="Email <you>", value=v, error=e, hint="h&", maxlength=254) }}"#,
            json!({"v": "\"><script>", "e": "Bad <b>"}),
        );
        assert_eq!(
            html,
            concat!(
                r#"<div class="field has-error"><label for="email">Email &lt;you&gt;</label>"#,
                r#"<p class="hint" id="email-hint">h&amp;</p>"#,
                r#"<p class="error" id="email-error"><span class="visually-hidden">Error: </span>Bad &lt;b&gt;</p>"#,
                r#"<input id="email" name="email" type="text" value="&quot;&gt;&lt;script&gt;" autocomplete="off" maxlength="254" required aria-invalid="true" aria-describedby="email-error email-hint"></div>"#
            )
        );
    }

    #[test]
    fn a_field_takes_its_error_and_value_from_the_forms_maps_by_its_id() {
        let source = r#"{{ field(name="password", id="delete_password", label="P", type="password", errors=errors, values=values) }}{{ field(name="confirm", label="C", errors=errors, values=values) }}"#;
        let html = render(
            source,
            json!({
                "errors": {"delete_password": "Wrong <password>", "password": "not this one"},
                "values": {"delete_password": "typed", "confirm": "al\"ice"},
            }),
        );
        assert!(html.contains(r#"id="delete_password-error"><span class="visually-hidden">Error: </span>Wrong &lt;password&gt;</p>"#), "{html}");
        assert!(
            !html.contains("not this one") && !html.contains("typed"),
            "{html}"
        );
        assert!(
            html.contains(r#"<input id="confirm" name="confirm" type="text" value="al&quot;ice""#),
            "{html}"
        );
        let empty = render(source, json!({"errors": {}, "values": {}}));
        assert!(
            !empty.contains("has-error") && !empty.contains("value="),
            "{empty}"
        );
    }

    #[test]
    fn a_password_field_never_shows_its_value() {
        let html = render(
            r#"{{ field(name="password", id="p2", label="Password", type="password", value="secret", required=false) }}"#,
            json!({}),
        );
        assert!(!html.contains("secret"), "{html}");
        assert!(
            html.contains(r#"<input id="p2" name="password" type="password" autocomplete="off">"#),
            "{html}"
        );
    }

    #[test]
    fn the_error_summary_lists_problems_in_field_order_or_nothing() {
        let source = r#"{{ error_summary(errors=errors, order=["a", "b", "c"]) }}"#;
        assert_eq!(render(source, json!({"errors": {}})), "");
        let html = render(
            source,
            json!({"errors": {"c": "C wrong", "a": "A <wrong>", "b": ""}}),
        );
        assert_eq!(
            html,
            concat!(
                r#"<div class="error-summary" role="alert"><h2>There are 2 problems</h2><ul>"#,
                r##"<li><a href="#a">A &lt;wrong&gt;</a></li><li><a href="#c">C wrong</a></li></ul></div>"##
            )
        );
    }

    #[test]
    fn the_settings_nav_marks_the_current_page_and_shows_linked_accounts_only_with_providers() {
        let without = render(r#"{{ settings_nav(current="sessions") }}"#, json!({}));
        assert!(without.contains(r#"<a href="/account/sessions" aria-current="page">"#));
        assert_eq!(without.matches("aria-current").count(), 1);
        assert!(!without.contains("Linked accounts"));
        let with = render(
            r#"{{ settings_nav(current="linked", providers=2) }}"#,
            json!({}),
        );
        assert!(
            with.contains(r#"<a href="/account/linked" aria-current="page">Linked accounts</a>"#)
        );
    }

    #[test]
    fn escaping_agrees_with_tera() {
        for text in ["", "plain", "<a href='x'>&\"/</a>", "ünïcødé & <", "//"] {
            let mut html = String::new();
            push_escaped(&mut html, text);
            assert_eq!(html, tera::escape_html(text));
        }
    }

    #[test]
    fn the_csrf_field_escapes_its_token() {
        assert_eq!(
            render(r#"{{ csrf_field(token=t) }}"#, json!({"t": "a\"b"})),
            r#"<input type="hidden" name="csrf_token" value="a&quot;b">"#
        );
    }
}
