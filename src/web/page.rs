//! Rendering pages: [`Page`] gathers what every template needs (site name,
//! the signed-in user, the CSRF token, a flash message) so handlers pass
//! only their own context.

use rocket::http::{ContentType, Status};
use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket::response::{self, Responder};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::accounts::entity as user;
use crate::assets::Templates;
use crate::auth::csrf::CsrfToken;
use crate::config::AppConfig;

pub struct Page<'r> {
    config: &'r AppConfig,
    templates: &'r Templates,
    user: Option<&'r user::Model>,
    csrf: CsrfToken,
    flash: Option<(String, String)>,
}

/// What templates may know of the signed-in user (not the password hash).
#[derive(Serialize)]
struct UserView<'a> {
    id: i32,
    username: &'a str,
    email: &'a str,
    is_member: bool,
    is_staff: bool,
    is_superuser: bool,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Page<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = req.rocket();
        let (Some(config), Some(templates)) = (rocket.state::<AppConfig>(), rocket.state()) else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let user = match crate::auth::current(req).await {
            Ok(found) => found.map(|auth| &auth.user),
            Err(status) => return Outcome::Error((status, ())),
        };
        let csrf = match req.guard::<CsrfToken>().await {
            Outcome::Success(token) => token,
            _ => return Outcome::Error((Status::InternalServerError, ())),
        };
        let flash = req
            .guard::<Option<FlashMessage<'_>>>()
            .await
            .succeeded()
            .flatten()
            .map(|f| (f.kind().to_owned(), f.message().to_owned()));
        Outcome::Success(Page {
            config,
            templates,
            user,
            csrf,
            flash,
        })
    }
}

/// The keys every page's layout needs: `site_name`, `user`, `csrf_token`,
/// `passkeys_available` and `oauth_providers`; and a form's `errors` and
/// `values`, empty unless the page gave its own (the `field` function
/// takes them whole).
fn shared(
    map: &mut Map<String, Value>,
    config: &AppConfig,
    user: Option<&user::Model>,
    csrf: &CsrfToken,
) {
    map.insert("site_name".into(), config.site_name.clone().into());
    map.insert("csrf_token".into(), csrf.as_str().into());
    for form_map in ["errors", "values"] {
        map.entry(form_map)
            .or_insert_with(|| Value::Object(Map::new()));
    }
    map.insert(
        "passkeys_available".into(),
        config.relying_party.is_some().into(),
    );
    let providers: Vec<Value> = config
        .oauth
        .iter()
        .map(|p| serde_json::json!({ "name": p.name, "display_name": p.display_name }))
        .collect();
    map.insert("oauth_providers".into(), providers.into());
    let user = user.map(|u| UserView {
        id: u.id,
        username: &u.username,
        email: &u.email,
        is_member: u.is_member,
        is_staff: u.counts_as_staff(),
        is_superuser: u.is_superuser,
    });
    map.insert(
        "user".into(),
        serde_json::to_value(user).unwrap_or(Value::Null),
    );
}

/// The layout's keys for an error page, whose request may not have got
/// as far as a [`Page`]: the user is whoever the request was found to be
/// signed in as (see `errors::handle`).
pub fn layout_context(req: &Request<'_>, config: &AppConfig, map: &mut Map<String, Value>) {
    let csrf = CsrfToken::of(req.cookies(), config);
    let user = crate::auth::session::already_found(req);
    shared(map, config, user, &csrf);
}

impl Page<'_> {
    /// Renders `template` with `context` plus the shared keys: `site_name`,
    /// `user`, `csrf_token`, `flash` and `oauth_providers`.
    pub fn render(&self, template: &'static str, context: impl Serialize) -> Rendered {
        let context = match serde_json::to_value(context) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Rendered::from(self.templates.render(template, self.context(context)))
    }

    /// [`render`](Self::render) for a signed-in page that shows no secret
    /// and is often seen again unchanged: the same view (same user, facts,
    /// CSRF token and flash) is answered from the pages rendered before
    /// (`assets::rendered`). Not for anonymous pages: each new visitor's
    /// CSRF token makes a view nobody sees again. `context` is taken as a
    /// JSON object, so no copy of it is made.
    pub fn render_again(&self, template: &'static str, context: Value) -> Rendered {
        let context = match context {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Rendered::from(self.templates.render_again(template, self.context(context)))
    }

    /// The page's own `context` with the shared keys added.
    fn context(&self, mut map: Map<String, Value>) -> Value {
        shared(&mut map, self.config, self.user, &self.csrf);
        if let Some((kind, message)) = &self.flash {
            map.insert(
                "flash".into(),
                serde_json::json!({ "kind": kind, "message": message }),
            );
        }
        Value::Object(map)
    }
}

/// A page rendered by [`Page::render`], answered as HTML; a template that
/// failed to render was logged and is answered 500.
pub struct Rendered(Option<String>);

impl From<rocket_dyn_templates::tera::Result<String>> for Rendered {
    fn from(rendered: rocket_dyn_templates::tera::Result<String>) -> Rendered {
        Rendered(
            rendered
                .inspect_err(|e| tracing::error!(error = ?e, "a template failed to render"))
                .ok(),
        )
    }
}

impl<'r> Responder<'r, 'static> for Rendered {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match self.0 {
            Some(html) => (ContentType::HTML, html).respond_to(req),
            None => Err(Status::InternalServerError),
        }
    }
}

impl Page<'_> {
    pub fn is_signed_in(&self) -> bool {
        self.user.is_some()
    }
}
