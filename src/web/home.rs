//! The home page, the members' page and the health check.

use rocket::http::Status;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, routes};
use sea_orm::DatabaseConnection;

use super::page::{Page, Rendered};
use crate::auth::Member;

pub fn routes() -> Vec<rocket::Route> {
    routes![index, members, health]
}

#[get("/")]
fn index(page: Page<'_>) -> Rendered {
    page.render("home", json!({}))
}

/// A page for members (staff and superusers count as members).
#[get("/members")]
fn members(member: Member, page: Page<'_>) -> Rendered {
    page.render(
        "members",
        json!({ "since": member.0.user.created_at.date().to_string() }),
    )
}

/// Healthy only when the database answers.
#[get("/health")]
async fn health(db: &State<DatabaseConnection>) -> (Status, Json<Value>) {
    match db.ping().await {
        Ok(()) => (Status::Ok, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                Status::ServiceUnavailable,
                Json(json!({ "status": "unavailable" })),
            )
        }
    }
}
