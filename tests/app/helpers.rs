//! `spawn_app()`: the real Gatehouse on a fresh database (a SQLite file, or
//! a PostgreSQL schema of its own when TEST_DATABASE_URL is set), with a
//! manual clock and a query counter; and `Browser`, which drives it the
//! way a person does: pages, forms with their CSRF token, cookies.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse::clock::{Clock, ManualClock};
use rocket::figment::Figment;
use rocket::http::{ContentType, Cookie, Header, Method, Status};
use rocket::local::asynchronous::Client;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use time::OffsetDateTime;

/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub client: Client,
    pub db: DatabaseConnection,
    pub clock: ManualClock,
    queries: Arc<AtomicUsize>,
    /// Held so the database lives exactly as long as the app.
    database: TestDatabase,
    /// Where this app's mail goes unless a test names another directory.
    _outbox: OutboxDir,
}

/// A file outbox of a test's own (sign-up alone queues a message),
/// removed when dropped.
pub struct OutboxDir(pub std::path::PathBuf);

impl OutboxDir {
    pub fn new() -> OutboxDir {
        OutboxDir(
            std::env::temp_dir()
                .join("gatehouse-tests")
                .join(format!("outbox-{}", uuid::Uuid::new_v4().simple())),
        )
    }
}

impl Drop for OutboxDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

type Customize = Box<dyn FnOnce(rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build>>;

pub struct AppBuilder {
    figment: Figment,
    routes: Vec<(&'static str, Vec<rocket::Route>)>,
    database_url: Option<String>,
    customize: Vec<Customize>,
}

pub fn app() -> AppBuilder {
    // Passwords are hashed at a test cost (64 KiB, one pass): the suite
    // hashes hundreds. The production parameters have tests of their own
    // (`production_hashing`) and `benches/password.rs`.
    let mut figment = gatehouse::config::bare_figment(rocket::Config::DEBUG_PROFILE)
        .merge(("log_level", "off"))
        .merge(("secret_key", random_secret_key()))
        .merge(("argon2.memory_kib", 64))
        .merge(("argon2.iterations", 1))
        // Timing tests compare hashes; under SCHED_IDLE (the default, unit
        // tested) the other tests running beside them would add the noise.
        .merge(("argon2.priority", "normal"));
    // The same suite runs with rate-limit counters in Redis when asked.
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        figment = figment.merge(("redis_url", url));
    }
    AppBuilder {
        figment,
        routes: Vec::new(),
        database_url: None,
        customize: Vec::new(),
    }
}

pub async fn spawn_app() -> TestApp {
    app().spawn().await
}

pub fn random_secret_key() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl AppBuilder {
    pub fn config(mut self, key: &str, value: impl serde::Serialize) -> Self {
        self.figment = self.figment.merge((key, value));
        self
    }

    /// Hashes passwords with the production argon2 parameters (the
    /// defaults: 19 MiB, two passes), for tests of what hashing costs.
    pub fn production_hashing(self) -> Self {
        let defaults = gatehouse::config::Argon2Settings::default();
        self.config("argon2.memory_kib", defaults.memory_kib)
            .config("argon2.iterations", defaults.iterations)
    }

    /// Routes of a "site built on Gatehouse", mounted beside its own.
    pub fn mount(mut self, base: &'static str, routes: Vec<rocket::Route>) -> Self {
        self.routes.push((base, routes));
        self
    }

    /// What a site built on Gatehouse does to the Rocket it is given
    /// (manage its token hooks, mount its routes), before launch.
    pub fn customize(
        mut self,
        change: impl FnOnce(rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build> + 'static,
    ) -> Self {
        self.customize.push(Box::new(change));
        self
    }

    /// Runs on a database that already exists (the test keeps its owner).
    pub fn database(mut self, url: String) -> Self {
        self.database_url = Some(url);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let outbox = OutboxDir::new();
        let database = match self.database_url {
            Some(url) => TestDatabase::borrowed(url),
            None => TestDatabase::create().await,
        };
        let mut db = gatehouse::db::connect(&database.url)
            .await
            .expect("connect to the test database");
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let (clock, handle) = Clock::manual(OffsetDateTime::now_utc());
        // A test's own `email.outbox_dir` wins over this default.
        let figment = self
            .figment
            .join(("email.outbox_dir", &outbox.0))
            .merge(("database_url", database.url.clone()));
        let mut rocket = gatehouse::rocket(figment).manage(db.clone()).manage(clock);
        for (base, routes) in self.routes {
            rocket = rocket.mount(base, routes);
        }
        for change in self.customize {
            rocket = change(rocket);
        }
        let client = Client::untracked(rocket).await.expect("a valid rocket");
        TestApp {
            client,
            db,
            clock: handle,
            queries,
            database,
            _outbox: outbox,
        }
    }
}

impl TestApp {
    /// Where this app keeps its data, for a second instance to share.
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser {
            app: self,
            cookies: RefCell::new(BTreeMap::new()),
            remote: RefCell::new("203.0.113.7:40000".parse().unwrap()),
            headers: RefCell::new(vec![(
                "User-Agent".into(),
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into(),
            )]),
        }
    }

    /// The app's time (its manual clock).
    pub fn now(&self) -> OffsetDateTime {
        self.client.rocket().state::<Clock>().unwrap().now()
    }

    /// Queries the app has sent since the last call.
    pub fn take_query_count(&self) -> usize {
        self.queries.swap(0, Ordering::SeqCst)
    }

    /// A browser that has signed up as `username` and is signed in.
    pub async fn signed_up(&self, username: &str) -> Browser<'_> {
        let browser = self.browser();
        let response = browser
            .signup(username, &format!("{username}@example.com"), PASSWORD)
            .await;
        response.assert_redirect("/account");
        browser
    }

    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    /// Every value of every column of every table, as text: what someone
    /// with a copy of the database would see.
    pub async fn stored_text(&self) -> String {
        let backend = self.db.get_database_backend();
        let columns_sql = match backend {
            sea_orm::DatabaseBackend::Sqlite => {
                "SELECT m.name AS t, c.name AS c FROM sqlite_master m \
                 JOIN pragma_table_info(m.name) c WHERE m.type = 'table'"
            }
            _ => {
                "SELECT table_name::text AS t, column_name::text AS c \
                 FROM information_schema.columns WHERE table_schema = current_schema()"
            }
        };
        let columns = self
            .db
            .query_all_raw(sea_orm::Statement::from_string(backend, columns_sql))
            .await
            .unwrap();
        assert!(columns.len() > 20, "the schema's columns were not found");
        let mut text = String::new();
        for column in columns {
            let table: String = column.try_get("", "t").unwrap();
            let name: String = column.try_get("", "c").unwrap();
            let rows = self
                .db
                .query_all_raw(sea_orm::Statement::from_string(
                    backend,
                    format!(r#"SELECT CAST("{name}" AS TEXT) AS v FROM "{table}""#),
                ))
                .await
                .unwrap();
            for row in rows {
                if let Ok(Some(value)) = row.try_get::<Option<String>>("", "v") {
                    text.push_str(&value);
                    text.push('\n');
                }
            }
        }
        text
    }

    /// Waits (up to ten seconds) until the app remembers lookups: at once
    /// on SQLite, once its change listener hears from PostgreSQL.
    pub async fn wait_for_remembered_lookups(&self) {
        let lookups = self
            .client
            .rocket()
            .state::<gatehouse::auth::state::Lookups>()
            .expect("the app's lookups");
        for _ in 0..200 {
            if lookups.remembering() {
                return;
            }
            rocket::tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the app never started remembering lookups");
    }

    /// Runs `sql` behind the app's back, as a site's own code might: it
    /// says so, as such code must (see `gatehouse::db::changes`).
    pub async fn execute(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.unwrap();
        gatehouse::db::changes::changed();
    }
}

/// One visitor: a cookie jar, an address and a user agent.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: RefCell<BTreeMap<String, String>>,
    remote: RefCell<SocketAddr>,
    headers: RefCell<Vec<(String, String)>>,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: Status,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[track_caller]
    pub fn assert_redirect(&self, to: &str) {
        assert_eq!(self.status, Status::SeeOther, "body: {}", self.body);
        assert_eq!(self.header("Location"), Some(to));
    }

    #[track_caller]
    pub fn assert_status(&self, status: Status) {
        assert_eq!(self.status, status, "body: {}", self.body);
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

impl Browser<'_> {
    pub fn set_remote(&self, addr: &str) {
        *self.remote.borrow_mut() = addr.parse().unwrap();
    }

    pub fn set_header(&self, name: &str, value: &str) {
        let mut headers = self.headers.borrow_mut();
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.to_owned(), value.to_owned()));
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .borrow_mut()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn clear_cookies(&self) {
        self.cookies.borrow_mut().clear();
    }

    /// Copies every cookie of `other`, as a thief with the cookie file would.
    pub fn copy_cookies_from(&self, other: &Browser<'_>) {
        *self.cookies.borrow_mut() = other.cookies.borrow().clone();
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<ContentType>,
        body: Option<Vec<u8>>,
    ) -> TestResponse {
        let mut request = self
            .app
            .client
            .req(method, path.to_owned())
            .remote(*self.remote.borrow());
        for (name, value) in self.headers.borrow().iter() {
            request = request.header(Header::new(name.clone(), value.clone()));
        }
        let cookies: Vec<Cookie<'static>> = self
            .cookies
            .borrow()
            .iter()
            .map(|(n, v)| Cookie::new(n.clone(), v.clone()))
            .collect();
        request = request.cookies(cookies);
        if let Some(content_type) = content_type {
            request = request.header(content_type);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.dispatch().await;
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect();
        let body = response.into_string().await.unwrap_or_default();
        let mut jar = self.cookies.borrow_mut();
        for (name, value) in &headers {
            if !name.eq_ignore_ascii_case("Set-Cookie") {
                continue;
            }
            let cookie = Cookie::parse_encoded(value.clone()).expect("a valid Set-Cookie");
            let expired = cookie.max_age().is_some_and(|age| age.is_zero())
                || cookie
                    .expires_datetime()
                    .is_some_and(|at| at < OffsetDateTime::now_utc());
            if expired || cookie.value().is_empty() {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::Get, path, None, None).await
    }

    /// POSTs `fields` url-encoded, exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        self.request(
            Method::Post,
            path,
            Some(ContentType::Form),
            Some(encode(fields).into_bytes()),
        )
        .await
    }

    /// The CSRF token a form on `page` carries.
    pub async fn csrf_token_from(&self, page: &str) -> String {
        let response = self.get(page).await;
        extract_csrf(&response.body)
            .unwrap_or_else(|| panic!("no csrf_token on {page}: {}", response.body))
    }

    /// The CSRF token of whatever form this browser can see: the sign-out
    /// form when signed in, the sign-in form otherwise.
    pub async fn csrf_token(&self) -> String {
        let home = self.get("/").await;
        match extract_csrf(&home.body) {
            Some(token) => token,
            None => self.csrf_token_from("/login").await,
        }
    }

    /// Fills in and submits a form as a browser would: with its token.
    pub async fn submit(&self, action: &str, fields: &[(&str, &str)]) -> TestResponse {
        let token = self.csrf_token().await;
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_raw(action, &all).await
    }

    pub async fn signup(&self, username: &str, email: &str, password: &str) -> TestResponse {
        self.submit(
            "/signup",
            &[
                ("username", username),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    pub async fn login(&self, login: &str, password: &str) -> TestResponse {
        self.submit("/login", &[("login", login), ("password", password)])
            .await
    }

    pub async fn logout(&self) -> TestResponse {
        self.submit("/logout", &[]).await
    }

    /// True when `/account` shows the account page rather than a redirect.
    pub async fn is_signed_in(&self) -> bool {
        let response = self.get("/account").await;
        match response.status {
            Status::Ok => true,
            Status::SeeOther => false,
            other => panic!("unexpected {other} from /account: {}", response.body),
        }
    }
}

pub fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                rocket::http::RawStr::new(k).percent_encode(),
                rocket::http::RawStr::new(v).percent_encode()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn extract_csrf(html: &str) -> Option<String> {
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// A database of the test's own, removed when the test ends.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    None,
    SqliteFile(std::path::PathBuf),
    PostgresSchema { admin_url: String, schema: String },
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if admin_url.starts_with("postgres") => {
                let schema = format!("gatehouse_test_{id}");
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .expect("create a test schema");
                admin.close().await.ok();
                let separator = if admin_url.contains('?') { '&' } else { '?' };
                TestDatabase {
                    url: format!("{admin_url}{separator}options=-c%20search_path%3D{schema}"),
                    cleanup: Cleanup::PostgresSchema { admin_url, schema },
                }
            }
            _ => {
                let dir = std::env::temp_dir().join("gatehouse-tests");
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!("{id}.db"));
                TestDatabase {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    cleanup: Cleanup::SqliteFile(path),
                }
            }
        }
    }

    fn borrowed(url: String) -> TestDatabase {
        TestDatabase {
            url,
            cleanup: Cleanup::None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::None => {}
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    std::fs::remove_file(file).ok();
                }
            }
            Cleanup::PostgresSchema { admin_url, schema } => {
                let (admin_url, schema) = (admin_url.clone(), schema.clone());
                // Drop runs inside the test's runtime: use a thread of our own.
                std::thread::spawn(move || {
                    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async move {
                        if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                            admin
                                .execute_unprepared(&format!(
                                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                                ))
                                .await
                                .ok();
                            admin.close().await.ok();
                        }
                    });
                })
                .join()
                .ok();
            }
        }
    }
}
