//! Email: the transactional outbox and its worker. A feature that sends
//! mail inserts an `outbox` row (`email::queue`) in the transaction of
//! the change that causes it; the worker delivers it later through a
//! `Mailer` (SMTP, or `.eml` files when no server is configured), retrying
//! until the server takes it. Sits below every feature that sends mail.

pub mod entity;
pub mod mailer;
pub mod notice;
pub mod token;
pub mod worker;

pub use entity::insert as queue;
