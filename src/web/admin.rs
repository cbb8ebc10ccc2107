//! `/admin`, `/admin/users`, `/admin/users/<id>` and its actions.

use rocket::form::FromForm;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri};
use serde::Serialize;
use serde_json::json;

use super::client::describe_user_agent;
use super::page::{Page, Rendered};
use super::time;
use crate::accounts::entity as user;
use crate::admin::staff::{self, Acting};
use crate::admin::stats;
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::{AppState, ClientInfo, CurrentUser, Recent, Staff, Superuser};
use crate::error::AppError;
use crate::security_log::entity as event;
use crate::sessions::store;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        dashboard,
        users,
        user_detail,
        set_active,
        revoke_sessions,
        send_password_reset,
        remove_passkey,
        reset_two_factor,
        set_roles,
        delete_user
    ]
}

const USERS_PER_PAGE: u64 = 25;
const EVENTS_SHOWN: u64 = 50;

#[get("/admin")]
async fn dashboard(_staff: Staff, page: Page<'_>, app: AppState<'_>) -> Result<Rendered, AppError> {
    let numbers = stats::dashboard(app.db, app.config, app.clock.now()).await?;
    Ok(page.render("admin/dashboard", json!({ "stats": numbers })))
}

#[derive(Serialize)]
struct UserRow {
    id: i32,
    username: String,
    email: String,
    roles: &'static str,
    active: bool,
    two_factor: bool,
    joined: String,
    last_seen: Option<String>,
}

fn roles(u: &user::Model) -> &'static str {
    if u.is_superuser {
        "Superuser"
    } else if u.is_staff {
        "Staff"
    } else if u.is_member {
        "Member"
    } else {
        "User"
    }
}

/// A page of users as the list shows them, with when each was last seen:
/// a live session's activity, else the last sign-in (sessions end, the
/// sign-in time stays).
async fn user_rows(app: &AppState<'_>, found: Vec<user::Model>) -> Result<Vec<UserRow>, AppError> {
    let ids: Vec<i32> = found.iter().map(|u| u.id).collect();
    let session_activity = store::last_seen_by_user(app.db, &ids).await?;
    Ok(found
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            roles: roles(&u),
            active: u.is_active,
            two_factor: u.has_two_factor(),
            joined: u.created_at.date().to_string(),
            last_seen: session_activity
                .get(&u.id)
                .copied()
                .max(u.last_login_at)
                .map(time::absolute),
            username: u.username,
            email: u.email,
        })
        .collect())
}

#[get("/admin/users?<q>&<page>")]
async fn users(
    _staff: Staff,
    q: Option<&str>,
    page: Option<u64>,
    view: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    let query = crate::text::search_query(q).map_err(AppError::BadRequest)?;
    let page = crate::db::page_number(page);
    let (found, total) = user::search(app.db, query, page - 1, USERS_PER_PAGE).await?;
    let pages = total.div_ceil(USERS_PER_PAGE).max(1);
    let rows = user_rows(&app, found).await?;
    let encoded_query = rocket::http::RawStr::new(query)
        .percent_encode()
        .to_string();
    Ok(view.render(
        "admin/users",
        json!({
            "users": rows,
            "q": query,
            "q_encoded": encoded_query,
            "page": page,
            "pages": pages,
            "total": total,
            "page_numbers": (1..=pages).collect::<Vec<_>>(),
        }),
    ))
}

async fn target(app: &AppState<'_>, id: i32) -> Result<user::Model, AppError> {
    user::find_by_id(app.db, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// An account's live sessions, linked accounts, passkeys and latest
/// events, as the
/// staff page shows them.
async fn activity(app: &AppState<'_>, id: i32) -> Result<serde_json::Value, AppError> {
    let now = app.clock.now();
    let sessions: Vec<_> = store::list_live_for_user(app.db, app.config, now, id)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "browser": describe_user_agent(s.user_agent.as_deref()),
                "ip": s.ip,
                "kind": s.kind,
                "last_active": time::relative(now, s.last_seen_at),
                "created": time::absolute(s.created_at),
            })
        })
        .collect();
    let links: Vec<_> = crate::oauth::entity::list_for_user(app.db, id)
        .await?
        .into_iter()
        .map(|l| json!({ "provider": l.provider, "login": l.login, "email": l.email }))
        .collect();
    let (events, _) = event::page_for_user(app.db, id, 0, EVENTS_SHOWN).await?;
    let events: Vec<_> = events
        .into_iter()
        .map(|e| super::security_log::view(e, now))
        .collect();
    let passkeys: Vec<_> = crate::passkeys::entity::list_for_user(app.db, id)
        .await?
        .into_iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "created": time::absolute(p.created_at),
                "last_used": p.last_used_at.map(time::absolute),
            })
        })
        .collect();
    Ok(json!({
        "sessions": sessions,
        "links": links,
        "events": events,
        "passkeys": passkeys,
    }))
}

#[get("/admin/users/<id>")]
async fn user_detail(
    staff: Staff,
    id: i32,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    let account = target(&app, id).await?;
    let activity = activity(&app, id).await?;
    let actor = &staff.0.user;
    Ok(page.render(
        "admin/user",
        json!({
            "account": {
                "id": account.id,
                "username": account.username,
                "email": account.email,
                "roles": roles(&account),
                "active": account.is_active,
                "is_member": account.is_member,
                "is_staff": account.counts_as_staff(),
                "is_superuser": account.is_superuser,
                "two_factor": account.has_two_factor(),
                "has_password": account.password_hash.is_some(),
                "joined": time::absolute(account.created_at),
                "last_sign_in": account.last_login_at.map(time::absolute),
            },
            "sessions": activity["sessions"],
            "links": activity["links"],
            "passkeys": activity["passkeys"],
            "events": activity["events"],
            "may_act": staff::may_act_on(actor, &account).is_ok(),
            "is_self": actor.id == account.id,
            "viewer_is_superuser": actor.is_superuser,
        }),
    ))
}

fn acting<'a>(app: &'a AppState<'_>, client: &'a ClientInfo, actor: &'a CurrentUser) -> Acting<'a> {
    Acting {
        db: app.db,
        now: app.clock.now(),
        client,
        actor: &actor.user,
    }
}

fn back_to(id: i32, message: impl Into<String>) -> Flash<Redirect> {
    Flash::success(Redirect::to(uri!(user_detail(id))), message.into())
}

#[derive(FromForm)]
pub struct ActiveForm {
    active: Option<bool>,
}

#[post("/admin/users/<id>/active", data = "<form>")]
async fn set_active(
    staff: Staff,
    _recent: Recent,
    id: i32,
    form: CsrfForm<ActiveForm>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let Some(active) = form.0.active else {
        return Err(AppError::BadRequest("Say `active=true` or `active=false`."));
    };
    let acting = acting(&app, &client, &staff.0);
    let account = staff::target(&acting, id).await?;
    staff::set_active(&acting, &account, active).await?;
    let name = account.username;
    Ok(back_to(
        id,
        if active {
            format!("{name} can sign in again.")
        } else {
            format!("{name} is deactivated and signed out everywhere.")
        },
    ))
}

#[post("/admin/users/<id>/sessions/revoke", data = "<_form>")]
async fn revoke_sessions(
    staff: Staff,
    _recent: Recent,
    id: i32,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let acting = acting(&app, &client, &staff.0);
    let account = staff::target(&acting, id).await?;
    let (ended, keys) = staff::end_sessions(&acting, &account).await?;
    Ok(back_to(
        id,
        format!(
            "Ended {ended} session(s) of {} and revoked {keys} API key(s).",
            account.username
        ),
    ))
}

/// Emails the user a password-reset link; staff never see it.
#[post("/admin/users/<id>/password-reset", data = "<_form>")]
async fn send_password_reset(
    staff: Staff,
    _recent: Recent,
    id: i32,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let acting = acting(&app, &client, &staff.0);
    let account = staff::target(&acting, id).await?;
    staff::send_password_reset(&acting, app.config, &account).await?;
    Ok(back_to(
        id,
        format!("A password-reset link was emailed to {}.", account.username),
    ))
}

#[post("/admin/users/<id>/passkeys/<passkey_id>/delete", data = "<_form>")]
async fn remove_passkey(
    staff: Staff,
    _recent: Recent,
    id: i32,
    passkey_id: i32,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let acting = acting(&app, &client, &staff.0);
    let account = staff::target(&acting, id).await?;
    staff::remove_passkey(&acting, app.config, &account, passkey_id).await?;
    Ok(back_to(
        id,
        format!("A passkey of {} was removed.", account.username),
    ))
}

/// Superusers only: for a holder who lost their second factor.
#[post("/admin/users/<id>/2fa/reset", data = "<_form>")]
async fn reset_two_factor(
    superuser: Superuser,
    _recent: Recent,
    id: i32,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let acting = acting(&app, &client, &superuser.0);
    let account = staff::target(&acting, id).await?;
    let ended = staff::reset_two_factor(&acting, app.config, &account).await?;
    Ok(back_to(
        id,
        format!(
            "Two-factor authentication of {} is off, {ended} session(s) ended, and they were emailed.",
            account.username
        ),
    ))
}

#[derive(FromForm)]
pub struct RolesForm {
    #[field(default = false)]
    is_member: bool,
    #[field(default = false)]
    is_staff: bool,
}

#[post("/admin/users/<id>/roles", data = "<form>")]
async fn set_roles(
    superuser: Superuser,
    _recent: Recent,
    id: i32,
    form: CsrfForm<RolesForm>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let acting = acting(&app, &client, &superuser.0);
    let account = staff::target(&acting, id).await?;
    staff::set_roles(&acting, &account, form.0.is_member, form.0.is_staff).await?;
    Ok(back_to(id, format!("Roles of {} saved.", account.username)))
}

#[derive(FromForm)]
pub struct DeleteForm<'r> {
    #[field(default = "")]
    confirm: &'r str,
}

#[post("/admin/users/<id>/delete", data = "<form>")]
async fn delete_user(
    superuser: Superuser,
    _recent: Recent,
    id: i32,
    form: CsrfForm<DeleteForm<'_>>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let acting = acting(&app, &client, &superuser.0);
    let account = staff::target(&acting, id).await?;
    if form.0.confirm != account.username {
        return Ok(Flash::error(
            Redirect::to(uri!(user_detail(id))),
            format!(
                "Nothing was deleted: to delete the account, type its username, {}, exactly.",
                account.username
            ),
        ));
    }
    staff::delete(&acting, &account).await?;
    Ok(Flash::success(
        Redirect::to(uri!(users(_, _))),
        format!(
            "{} was deleted with everything they owned.",
            account.username
        ),
    ))
}
