//! `GET /account/security`: the user's own events, 25 a page.

use rocket::{get, routes};
use serde::Serialize;
use serde_json::json;

use super::client::describe_user_agent;
use super::page::{Page, Rendered};
use super::time;
use crate::auth::{AppState, CurrentUser};
use crate::error::AppError;
use crate::security_log::{EventKind, entity};

pub fn routes() -> Vec<rocket::Route> {
    routes![security_page]
}

pub const PER_PAGE: u64 = 25;

/// An event as pages show it.
#[derive(Serialize)]
pub struct EventView {
    pub kind: String,
    pub label: String,
    pub when: String,
    pub when_iso: String,
    pub when_relative: String,
    pub ip: Option<String>,
    pub browser: String,
    pub by_staff: bool,
}

pub fn view(event: entity::Model, now: ::time::OffsetDateTime) -> EventView {
    let detail = event
        .detail
        .as_deref()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .unwrap_or_default();
    let label = match EventKind::parse(&event.kind) {
        Some(kind) => crate::security_log::sentence::sentence(kind, &detail),
        None => event.kind.replace('_', " "),
    };
    EventView {
        label,
        kind: event.kind,
        when: time::absolute(event.created_at),
        when_iso: time::iso(event.created_at),
        when_relative: time::relative(now, event.created_at),
        browser: describe_user_agent(event.user_agent.as_deref()),
        ip: event.ip,
        by_staff: event.actor_id.is_some_and(|actor| actor != event.user_id),
    }
}

#[get("/account/security?<page>")]
async fn security_page(
    current: CurrentUser,
    page: Option<u64>,
    view_page: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    let page = crate::db::page_number(page);
    let (events, total) =
        entity::page_for_user(app.db, current.user.id, page - 1, PER_PAGE).await?;
    let now = app.clock.now();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let events: Vec<EventView> = events.into_iter().map(|e| view(e, now)).collect();
    Ok(view_page.render(
        "security_log/events",
        json!({
            "events": events,
            "page": page,
            "pages": pages,
            "total": total,
            "previous": (page > 1).then(|| page - 1),
            "next": (page < pages).then(|| page + 1),
        }),
    ))
}
