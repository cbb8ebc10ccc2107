//! Accounts: the `users` table, passwords, and the sign-up, sign-in,
//! sign-out and account pages.
//!
//! Security rules: passwords are argon2id hashes made and checked on a
//! blocking thread; an unknown user and a wrong password get the same
//! message in the same time; `next` is followed only to a local path; a
//! password change ends every other session.

pub mod entity;
pub mod forms;
pub mod password;
mod routes;
pub mod service;

pub fn routes() -> Vec<rocket::Route> {
    routes::routes()
}
