//! The outbox and its worker, against a small SMTP server of the test's
//! own on 127.0.0.1: delivery, a server that refuses and then accepts, a
//! message committed before a crash, several instances on one outbox, and
//! the file outbox when no server is configured.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse::email::entity::{self, Entity as Outbox};
use rocket::tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use rocket::tokio::net::TcpListener;
use rocket::tokio::sync::Mutex;
use sea_orm::{EntityTrait, TransactionTrait};

use crate::helpers::*;

/// An SMTP server that takes every message (after refusing the first
/// `refusals` with a temporary error), keeping what it got.
struct SmtpServer {
    port: u16,
    received: Arc<Mutex<Vec<String>>>,
}

impl SmtpServer {
    async fn start(refusals: usize) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let refusals = Arc::new(AtomicUsize::new(refusals));
        let store = received.clone();
        rocket::tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (store, refusals) = (store.clone(), refusals.clone());
                rocket::tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 test ESMTP\r\n").await.ok();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-test\r\n250 8BITMIME\r\n",
                            "MAIL" => {
                                let refuse = refusals
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                        n.checked_sub(1)
                                    })
                                    .is_ok();
                                if refuse {
                                    b"451 try again later\r\n"
                                } else {
                                    b"250 ok\r\n"
                                }
                            }
                            "DATA" => {
                                write.write_all(b"354 go on\r\n").await.ok();
                                let mut message = String::new();
                                while let Ok(Some(body)) = lines.next_line().await {
                                    if body == "." {
                                        break;
                                    }
                                    message.push_str(&body);
                                    message.push('\n');
                                }
                                store.lock().await.push(message);
                                b"250 queued\r\n"
                            }
                            "QUIT" => {
                                write.write_all(b"221 bye\r\n").await.ok();
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        if write.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpServer { port, received }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    async fn messages(&self) -> Vec<String> {
        self.received.lock().await.clone()
    }

    /// Waits up to `limit` for `count` messages, and returns them.
    async fn wait_for(&self, count: usize, limit: Duration) -> Vec<String> {
        let start = std::time::Instant::now();
        while self.received.lock().await.len() < count && start.elapsed() < limit {
            rocket::tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.messages().await
    }
}

async fn rows(db: &sea_orm::DatabaseConnection) -> Vec<entity::Model> {
    Outbox::find().all(db).await.unwrap()
}

async fn queue(app: &TestApp, to: &str, subject: &str) -> i64 {
    let txn = app.db.begin().await.unwrap();
    let id = gatehouse::email::queue(&txn, app.now(), to, subject, "Hello.\n")
        .await
        .unwrap();
    gatehouse::db::changes::commit(txn).await.unwrap();
    id
}

#[rocket::async_test]
async fn a_queued_message_is_delivered_within_a_second_and_recorded_as_sent() {
    let server = SmtpServer::start(0).await;
    let app = app().config("email.smtp_url", server.url()).spawn().await;
    let queued = std::time::Instant::now();
    queue(&app, "ann@example.com", "Gatehouse: hello").await;
    let messages = server.wait_for(1, Duration::from_secs(5)).await;
    let took = queued.elapsed();
    assert_eq!(messages.len(), 1);
    assert!(took < Duration::from_secs(2), "delivered after {took:?}");
    let message = &messages[0];
    assert!(message.contains("Subject: Gatehouse: hello"), "{message}");
    assert!(message.contains("To: ann@example.com"), "{message}");
    assert!(
        message.contains("From: Gatehouse <noreply@127.0.0.1>"),
        "{message}"
    );
    assert!(message.contains("Hello."), "{message}");
    rocket::tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = rows(&app.db).await;
    assert!(rows[0].sent_at.is_some());
    assert_eq!(rows[0].attempts, 1);
    // Sent is sent: more rounds send nothing again.
    rocket::tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(server.messages().await.len(), 1);
}

#[rocket::async_test]
async fn a_refused_message_is_tried_again_after_the_backoff() {
    let server = SmtpServer::start(1).await;
    let app = app().config("email.smtp_url", server.url()).spawn().await;
    queue(&app, "ann@example.com", "Gatehouse: hello").await;
    let start = std::time::Instant::now();
    while rows(&app.db).await[0].attempts == 0 && start.elapsed() < Duration::from_secs(5) {
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failed = &rows(&app.db).await[0];
    assert_eq!(failed.attempts, 1);
    assert!(failed.sent_at.is_none());
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap()
            .contains("try again later")
    );
    // Not before the backoff (15 s on the app's clock)...
    rocket::tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(server.messages().await.is_empty());
    // The backlog is a metric (the registry is the process's, shared by
    // the tests running beside this one, so only its presence is checked).
    let prometheus = app.browser();
    prometheus.set_remote("127.0.0.1:9090");
    let metrics = prometheus.get("/metrics").await.body;
    assert!(metrics.contains("gatehouse_outbox_backlog "), "{metrics}");
    // ...and soon after it.
    app.clock.advance(time::Duration::seconds(16));
    assert_eq!(server.wait_for(1, Duration::from_secs(5)).await.len(), 1);
}

#[rocket::async_test]
async fn messages_committed_before_a_crash_are_sent_after_the_restart() {
    let server = SmtpServer::start(0).await;
    let database = TestDatabase::create().await;
    let db = gatehouse::db::connect(&database.url).await.unwrap();
    gatehouse::db::migrate(&db).await.unwrap();
    // Before the app's clock starts (it counts whole seconds).
    let now = time::OffsetDateTime::now_utc() - time::Duration::seconds(2);
    // One committed and never tried; one claimed by the instance that died
    // while sending it.
    let txn = db.begin().await.unwrap();
    gatehouse::email::queue(&txn, now, "ann@example.com", "Gatehouse: waiting", "1\n")
        .await
        .unwrap();
    let claimed =
        gatehouse::email::queue(&txn, now, "bob@example.com", "Gatehouse: claimed", "2\n")
            .await
            .unwrap();
    gatehouse::db::changes::commit(txn).await.unwrap();
    let lease = gatehouse::email::worker::LEASE;
    assert!(
        entity::claim(&db, claimed, now, lease)
            .await
            .unwrap()
            .is_some()
    );
    db.close().await.unwrap();

    let app = app()
        .config("email.smtp_url", server.url())
        .database(database.url.clone())
        .spawn()
        .await;
    let messages = server.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 1, "{:?}", rows(&app.db).await);
    assert!(messages[0].contains("Gatehouse: waiting"));
    // The dead instance's claim holds until its lease runs out.
    rocket::tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(server.messages().await.len(), 1);
    app.clock.advance(lease + time::Duration::seconds(1));
    let messages = server.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 2);
    assert!(messages[1].contains("Gatehouse: claimed"));
}

#[rocket::async_test]
async fn two_instances_on_one_outbox_send_each_message_once() {
    let server = SmtpServer::start(0).await;
    let first = app().config("email.smtp_url", server.url()).spawn().await;
    let second = app()
        .config("email.smtp_url", server.url())
        .database(first.database_url().to_owned())
        .spawn()
        .await;
    for n in 0..20 {
        queue(
            &first,
            &format!("user{n}@example.com"),
            &format!("Gatehouse: {n}"),
        )
        .await;
    }
    let messages = server.wait_for(20, Duration::from_secs(10)).await;
    rocket::tokio::time::sleep(Duration::from_millis(1200)).await;
    let messages_after = server.messages().await;
    assert_eq!(messages.len(), 20);
    assert_eq!(messages_after.len(), 20, "a message was sent twice");
    for n in 0..20 {
        let subject = format!("Subject: Gatehouse: {n}\n");
        assert_eq!(
            messages_after
                .iter()
                .filter(|m| m.contains(&subject))
                .count(),
            1
        );
    }
    drop(second);
}

#[rocket::async_test]
async fn without_a_server_messages_become_files_in_the_outbox_dir() {
    let dir = std::env::temp_dir().join(format!("gatehouse-outbox-{}", uuid::Uuid::new_v4()));
    let app = app().config("email.outbox_dir", &dir).spawn().await;
    let id = queue(&app, "ann@example.com", "Gatehouse: on file").await;
    let start = std::time::Instant::now();
    let files = loop {
        let files: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        if !files.is_empty() || start.elapsed() > Duration::from_secs(5) {
            break files;
        }
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(files.len(), 1, "{files:?}");
    let (millis, rest) = files[0].split_once('-').unwrap();
    assert!(millis.parse::<u64>().is_ok());
    assert_eq!(rest, format!("{id}.eml"));
    let text = std::fs::read_to_string(dir.join(&files[0])).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(dir.join(&files[0]))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only the owner may read a message");
    assert!(text.contains("Subject: Gatehouse: on file"), "{text}");
    assert!(text.contains("To: ann@example.com"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[rocket::async_test]
async fn a_bad_smtp_url_stops_the_start() {
    let database = TestDatabase::create().await;
    let rocket = gatehouse::rocket(
        gatehouse::config::bare_figment(rocket::Config::DEBUG_PROFILE)
            .merge(("log_level", "off"))
            .merge(("secret_key", random_secret_key()))
            .merge(("database_url", database.url.clone()))
            .merge(("email.smtp_url", "http://mail.example")),
    );
    let error = rocket.ignite().await.unwrap_err();
    assert!(matches!(
        error.kind(),
        rocket::error::ErrorKind::FailedFairings(_)
    ));
}

#[rocket::async_test]
async fn an_smtp_url_without_tls_none_never_sends_in_plain_text() {
    // The test's server offers no STARTTLS: with a plain `smtp://` URL the
    // message must wait rather than cross the network unencrypted.
    let server = SmtpServer::start(0).await;
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let app = app().config("email.smtp_url", url).spawn().await;
    queue(&app, "ann@example.com", "Gatehouse: secret link").await;
    let start = std::time::Instant::now();
    while rows(&app.db).await[0].attempts == 0 && start.elapsed() < Duration::from_secs(5) {
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let row = &rows(&app.db).await[0];
    assert_eq!(row.attempts, 1);
    assert!(row.sent_at.is_none());
    assert!(row.last_error.is_some());
    assert!(server.messages().await.is_empty());
}
