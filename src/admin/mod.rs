//! Staff pages: the dashboard, finding users, and acting on an account
//! (deactivate, end sessions, change roles, delete).
//!
//! Security rules: every page needs `Staff` (and with `staff_require_2fa`,
//! two-factor authentication); role changes and deletion need
//! `Superuser`. Nobody acts on their own account here, only a superuser
//! acts on staff or superusers, so the last superuser cannot be removed;
//! every action is recorded in the target's security log with the acting
//! staff member.

mod routes;
pub mod stats;

pub fn routes() -> Vec<rocket::Route> {
    routes::routes()
}
