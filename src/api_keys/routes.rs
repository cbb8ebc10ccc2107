//! `/account/api-keys`: list, create (the key is shown once, on the page
//! after the redirect) and revoke.

use rocket::form::FromForm;
use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri};
use rocket_dyn_templates::Template;
use sea_orm::{ActiveModelTrait as _, Set};
use serde::Serialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::entity::{self as api_key};
use super::key;
use crate::api::scope::Scopes;
use crate::error::AppError;
use crate::security_log::{self, Event, EventKind};
use crate::sessions::guards::CurrentUser;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::forms::{FormErrors, FormResponse};
use crate::web::handoff;
use crate::web::page::Page;

pub fn routes() -> Vec<rocket::Route> {
    routes![keys_page, create_key, revoke_key]
}

/// More than this many live keys is a sign of keys not being revoked.
const MAX_KEYS_PER_USER: u64 = 50;
const MAX_NAME_LEN: usize = 64;
const EXPIRY_CHOICES: [i64; 3] = [30, 90, 365];
/// The handoff carrying a new key to the page after the redirect.
const NEW_KEY: &str = "api_key";

/// A key just made, on its way to being shown once.
#[derive(Serialize, serde::Deserialize)]
struct NewKey {
    name: String,
    key: String,
}

#[derive(FromForm)]
pub struct CreateKeyForm<'r> {
    #[field(default = "")]
    name: &'r str,
    /// Repeatable: `read`, `write`.
    scopes: Vec<&'r str>,
    /// 30, 90, 365, or empty / `none` for a key that does not expire.
    #[field(default = "")]
    expires_days: &'r str,
}

/// A key as the page shows it: never the hash.
#[derive(Serialize)]
struct KeyView {
    id: i32,
    name: String,
    prefix: String,
    scopes: String,
    created: String,
    last_used: Option<String>,
    last_used_ip: Option<String>,
    expires: Option<String>,
    /// `active`, `expired` or `revoked`.
    status: &'static str,
}

fn display_time(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

fn view(model: api_key::Model, now: OffsetDateTime) -> KeyView {
    let status = if model.revoked_at.is_some() {
        "revoked"
    } else if model.is_usable(now) {
        "active"
    } else {
        "expired"
    };
    KeyView {
        id: model.id,
        name: model.name,
        prefix: model.prefix,
        scopes: model.scopes,
        created: display_time(model.created_at),
        last_used: model.last_used_at.map(display_time),
        last_used_ip: model.last_used_ip,
        expires: model.expires_at.map(display_time),
        status,
    }
}

async fn render(
    page: &Page<'_>,
    app: &AppState<'_>,
    user_id: i32,
    extra: serde_json::Value,
) -> Result<Template, AppError> {
    let now = app.clock.now();
    let keys: Vec<KeyView> = api_key::list_for_user(app.db, user_id)
        .await?
        .into_iter()
        .map(|model| view(model, now))
        .collect();
    let mut context = json!({
        "keys": keys,
        "public_url": app.config.public_url,
        "values": { "scopes": ["read"], "expires_days": "90" },
        "errors": {},
    });
    if let (Some(context), serde_json::Value::Object(extra)) = (context.as_object_mut(), extra) {
        context.extend(extra);
    }
    Ok(page.render("api_keys/keys", context))
}

#[get("/account/api-keys")]
async fn keys_page(
    current: CurrentUser,
    page: Page<'_>,
    app: AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Result<Template, AppError> {
    let user_id = current.user.id;
    let made: Option<NewKey> =
        handoff::take(cookies, app.config, app.clock.now(), user_id, NEW_KEY);
    let extra = made.map_or_else(
        || json!({}),
        |made| json!({ "new_key": made.key, "new_key_name": made.name }),
    );
    render(&page, &app, user_id, extra).await
}

/// The form's scopes and expiry, with what is wrong with any field
/// (name included) added to `errors`.
fn check_form(form: &CreateKeyForm<'_>, errors: &mut FormErrors) -> (Option<Scopes>, Option<i64>) {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        errors.add(
            "name",
            format!("Give the key a name of 1 to {MAX_NAME_LEN} characters."),
        );
    }
    let scopes = errors.check(
        "scopes",
        Scopes::from_names(form.scopes.iter().copied()).ok_or("Choose read, write or both."),
    );
    let expires_days = match form.expires_days {
        "" | "none" => None,
        text => match text.parse::<i64>() {
            Ok(days) if EXPIRY_CHOICES.contains(&days) => Some(days),
            _ => {
                errors.add("expires_days", "Choose 30, 90 or 365 days, or no expiry.");
                None
            }
        },
    };
    (scopes, expires_days)
}

#[post("/account/api-keys", data = "<form>")]
async fn create_key(
    current: CurrentUser,
    form: CsrfForm<CreateKeyForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let user_id = current.user.id;
    let mut errors = FormErrors::default();
    let name = form.name.trim();
    let (scopes, expires_days) = check_form(&form, &mut errors);
    if api_key::count_unrevoked_for_user(app.db, user_id).await? >= MAX_KEYS_PER_USER {
        errors.add(
            "name",
            format!("You have {MAX_KEYS_PER_USER} keys; revoke some before creating more."),
        );
    }
    let Some(scopes) = scopes.filter(|_| errors.is_empty()) else {
        let extra = json!({
            "values": { "name": name, "scopes": form.scopes, "expires_days": form.expires_days },
            "errors": errors,
        });
        return Ok(FormResponse::Invalid(
            render(&page, &app, user_id, extra).await?,
        ));
    };
    let now = app.clock.now();
    let new_key = key::generate();
    api_key::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        prefix: Set(new_key.prefix.clone()),
        key_hash: Set(new_key.hash),
        scopes: Set(scopes.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_days.map(|days| now + Duration::days(days))),
        ..Default::default()
    }
    .insert(app.db)
    .await?;
    let event = Event::new(user_id, EventKind::ApiKeyCreated, &client)
        .detail(json!({ "name": name, "key": new_key.prefix, "scopes": scopes.to_string() }));
    security_log::record(app.db, now, event).await;
    let made = NewKey {
        name: name.to_owned(),
        key: new_key.key,
    };
    handoff::put(cookies, app.config, now, user_id, NEW_KEY, made);
    Ok(FormResponse::Redirect(Flash::success(
        Redirect::to(uri!(keys_page)),
        "Your key was created.",
    )))
}

#[post("/account/api-keys/<id>/revoke", data = "<_form>")]
async fn revoke_key(
    current: CurrentUser,
    id: i32,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let now = app.clock.now();
    let Some(revoked) = api_key::revoke(app.db, current.user.id, id, now).await? else {
        return Err(AppError::NotFound);
    };
    let event = Event::new(current.user.id, EventKind::ApiKeyRevoked, &client)
        .detail(json!({ "name": revoked.name, "key": revoked.prefix }));
    security_log::record(app.db, now, event).await;
    Ok(Flash::success(
        Redirect::to(uri!(keys_page)),
        "The key was revoked. Requests using it now get 401.",
    ))
}
