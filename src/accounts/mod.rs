//! Accounts: the `users` table and its queries, passwords, registration,
//! deleting and (de)activating accounts.
//!
//! Security rules: passwords are argon2id hashes made and checked on a
//! blocking thread; an unknown user and a wrong password get the same
//! message in the same time; `next` is followed only to a local path; a
//! password change ends every other session.

pub mod email_change;
pub mod entity;
pub mod forms;
pub mod password;
pub mod recovery;
pub mod service;
pub mod verification;
