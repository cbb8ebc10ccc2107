//! `/account/api-keys`: list, create (the key is shown once, on the page
//! after the redirect) and revoke.

use rocket::form::FromForm;
use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use super::forms::FormResponse;
use super::handoff;
use super::page::{Page, Rendered};
use crate::api_keys::entity as api_key;
use crate::api_keys::service::{self, CreateError, NewKey};
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::{AppState, ClientInfo, CurrentUser, Recent};
use crate::error::AppError;

pub fn routes() -> Vec<rocket::Route> {
    routes![keys_page, create_key, revoke_key]
}

/// The handoff carrying a new key to the page after the redirect.
const MADE: &str = "api_key";

/// A key just made, on its way to being shown once.
#[derive(Serialize, serde::Deserialize)]
struct MadeKey {
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
) -> Result<Rendered, AppError> {
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
) -> Result<Rendered, AppError> {
    let user_id = current.user.id;
    let made: Option<MadeKey> = handoff::take(cookies, app.config, app.clock.now(), user_id, MADE);
    let extra = made.map_or_else(
        || json!({}),
        |made| json!({ "new_key": made.key, "new_key_name": made.name }),
    );
    render(&page, &app, user_id, extra).await
}

#[post("/account/api-keys", data = "<form>")]
async fn create_key(
    current: CurrentUser,
    _recent: Recent,
    form: CsrfForm<CreateKeyForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let user_id = current.user.id;
    let input = NewKey {
        name: form.name,
        scopes: &form.scopes,
        expires_days: form.expires_days,
    };
    let now = app.clock.now();
    match service::create(app.db, app.config, now, &client, &current.user, &input).await {
        Ok(new_key) => {
            let made = MadeKey {
                name: form.name.trim().to_owned(),
                key: new_key.key,
            };
            handoff::put(cookies, app.config, now, user_id, MADE, made);
            Ok(FormResponse::Redirect(Flash::success(
                Redirect::to(uri!(keys_page)),
                "Your key was created.",
            )))
        }
        Err(CreateError::Invalid(errors)) => {
            let values = json!({ "name": form.name.trim(), "scopes": form.scopes, "expires_days": form.expires_days });
            let extra = json!({ "values": values, "errors": errors });
            Ok(FormResponse::Invalid(
                render(&page, &app, user_id, extra).await?,
            ))
        }
        Err(CreateError::Failed(e)) => Err(e),
    }
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
    if !service::revoke(app.db, now, &client, current.user.id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(Flash::success(
        Redirect::to(uri!(keys_page)),
        "The key was revoked. Requests using it now get 401.",
    ))
}
