//! Staff work on accounts: what the dashboard counts, and the actions on
//! another account (deactivate, end sessions, change roles, delete), each
//! checked for who may act on whom and recorded. The pages are `web`'s.
//!
//! Security rules: nobody acts on their own account here, only a
//! superuser acts on staff or superusers, so the last superuser cannot be
//! removed; every action is recorded in the target's security log with
//! the acting staff member, a deletion in the staff member's own.

pub mod staff;
pub mod stats;
