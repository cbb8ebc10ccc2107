//! The database connection and migrations. One code path serves SQLite
//! (the default, a file under `data/`) and PostgreSQL.

pub mod changes;

use std::sync::OnceLock;
use std::time::Duration;

use migrations::MigratorTrait as _;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ColumnTrait as _, ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr, DeleteMany,
    EntityTrait, QueryFilter as _, Select, SqlErr, Statement, UpdateMany, Value,
};

/// The SQL of a query on a hot path, built once per backend: SeaORM
/// builds a statement afresh on every call, and for a signed-in request's
/// lookup that was a tenth of its work. The caller gives the values in the
/// order of the built statement's placeholders, and keeps a test that
/// compares [`PrebuiltSql::statement`] with a fresh build.
pub struct PrebuiltSql {
    by_backend: [OnceLock<String>; 3],
}

impl PrebuiltSql {
    pub const fn new() -> PrebuiltSql {
        PrebuiltSql {
            by_backend: [const { OnceLock::new() }; 3],
        }
    }

    /// The statement for `backend` with `values`; `build` gives the SQL
    /// the first time.
    pub fn statement(
        &self,
        backend: DbBackend,
        build: impl FnOnce() -> String,
        values: impl IntoIterator<Item = Value>,
    ) -> Statement {
        let slot = match backend {
            DbBackend::Sqlite => 0,
            DbBackend::Postgres => 1,
            _ => 2,
        };
        let sql = self.by_backend[slot].get_or_init(build);
        Statement::from_sql_and_values(backend, sql.as_str(), values)
    }
}

impl Default for PrebuiltSql {
    fn default() -> Self {
        PrebuiltSql::new()
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot create {dir}: {source}")]
    Folder { dir: String, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// A wait for a pooled connection longer than this is logged and counted.
const SLOW_ACQUIRE: Duration = Duration::from_millis(100);

/// Opens a pool for `url`. For a SQLite file the folder is created first,
/// and the journal is WAL so readers do not block the writer.
pub async fn connect(url: &str) -> Result<DatabaseConnection, ConnectError> {
    if let Some(path) = sqlite_file(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|source| ConnectError::Folder {
            dir: dir.display().to_string(),
            source,
        })?;
    }
    if let Some(path) = sqlite_file(url) {
        create_private_file(path)
            .map_err(|e| DbErr::Custom(format!("cannot create {path}: {e}")))?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if url.starts_with("sqlite:") {
            sqlite_pool_size()
        } else {
            10
        })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        // A connection in steady use is healthy; pinging it before every
        // query was a second round trip per request. One idle this long
        // may have been dropped by a server, proxy or firewall: ping it.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false)
        // sqlx warns of a connection that took this long to get; the log
        // subscriber counts those warnings into the pool metrics.
        .map_sqlx_sqlite_pool_opts(|o| o.acquire_slow_threshold(SLOW_ACQUIRE))
        .map_sqlx_postgres_pool_opts(|o| o.acquire_slow_threshold(SLOW_ACQUIRE))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Ok(Database::connect(options).await?)
}

/// Each SQLite connection is served by a thread of its own, and SQLite
/// writes one at a time: more connections than cores only add threads
/// handing work to each other. Twice the cores (at least four) keeps reads
/// going beside a write.
fn sqlite_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 2).unwrap_or(u32::MAX).max(4)
}

/// Creates `path` readable by its owner only (0600) when it does not exist
/// yet: it holds password hashes and sessions. SQLite gives its `-wal` and
/// `-shm` files the same mode as the database file.
fn create_private_file(path: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Brings the schema up to date; safe to run at every start.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    migrations::Migrator::up(db, None).await
}

/// The file path of a SQLite URL, or None for PostgreSQL and `:memory:`.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let path = path.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

/// When `err` is a unique-constraint violation, the database's message,
/// which names the violated index on SQLite and PostgreSQL alike.
pub fn unique_violation(err: &DbErr) -> Option<String> {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => Some(message),
        _ => None,
    }
}

// Owner-scoped queries.
//
// Things a user owns (sessions, API keys, linked accounts) are only ever
// looked up, changed or deleted through their owner: the owner's id is a
// condition of the query itself, so another user's id finds nothing and
// answers 404 exactly as an id that does not exist. Every query acting
// for a user on their things starts from one of these functions.

/// An entity whose rows belong to one user.
pub trait OwnedByUser: EntityTrait {
    /// The column holding the owner's user id.
    fn owner_column() -> Self::Column;
}

/// `SELECT` among `user_id`'s rows only.
pub fn find_owned<E: OwnedByUser>(user_id: i32) -> Select<E> {
    E::find().filter(E::owner_column().eq(user_id))
}

/// `UPDATE` among `user_id`'s rows only.
pub fn update_owned<E: OwnedByUser>(user_id: i32) -> UpdateMany<E> {
    E::update_many().filter(E::owner_column().eq(user_id))
}

/// `DELETE` among `user_id`'s rows only.
pub fn delete_owned<E: OwnedByUser>(user_id: i32) -> DeleteMany<E> {
    E::delete_many().filter(E::owner_column().eq(user_id))
}

/// The highest page number a `?page=` may ask for: far past any real list,
/// and small enough that the row offset cannot overflow.
pub const LAST_PAGE: u64 = 1_000_000;

/// A 1-based `?page=` parameter made safe: absent or 0 is the first page,
/// anything huge the last one we serve (an empty page, not an overflow).
pub fn page_number(requested: Option<u64>) -> u64 {
    requested.unwrap_or(1).clamp(1, LAST_PAGE)
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[rocket::async_test]
    async fn a_new_sqlite_database_and_its_journal_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("gatehouse-mode-{}", uuid::Uuid::new_v4()));
        let path = dir.join("new.db");
        let db = super::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        super::migrate(&db).await.unwrap();
        for file in ["new.db", "new.db-wal", "new.db-shm"] {
            let mode = std::fs::metadata(dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        db.close().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sqlite_file_paths_are_found_in_urls() {
        assert_eq!(
            sqlite_file("sqlite://data/gatehouse.db?mode=rwc"),
            Some("data/gatehouse.db")
        );
        assert_eq!(sqlite_file("sqlite:///tmp/x.db"), Some("/tmp/x.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }
}
