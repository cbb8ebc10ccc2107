//! PostgreSQL only: a notice on the `gatehouse_changes` channel after
//! every statement that changes or deletes rows of `users`, `sessions` or
//! `api_keys`, so each instance forgets the lookups it remembers (see
//! `gatehouse::db::changes`). The writes that only record a session's or
//! key's last use send none: they change nothing a lookup decides on.
//! SQLite has no such channel; its file belongs to one process.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE FUNCTION gatehouse_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gatehouse_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change();
CREATE TRIGGER sessions_changed
    AFTER UPDATE OF public_id, token_hash, user_id, kind, remember, ip, user_agent,
        created_at, expires_at, credential_version, confirmed_at
    OR DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change();
CREATE TRIGGER api_keys_changed
    AFTER UPDATE OF user_id, name, prefix, key_hash, scopes, created_at, expires_at, revoked_at
    OR DELETE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change();
"#;

const DOWN: &str = r#"
DROP TRIGGER api_keys_changed ON api_keys;
DROP TRIGGER sessions_changed ON sessions;
DROP TRIGGER users_changed ON users;
DROP FUNCTION gatehouse_notify_change();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(DOWN).await?;
        Ok(())
    }
}
