//! The `gatehouse` binary: migrate, createsuperuser, and start-up errors.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::helpers::{PASSWORD, TestDatabase, app};

struct Run {
    dir: std::path::PathBuf,
    database: TestDatabase,
}

impl Run {
    async fn new() -> Run {
        let dir = std::env::temp_dir().join(format!("gatehouse-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Run {
            dir,
            database: TestDatabase::create().await,
        }
    }

    /// Runs the binary in an empty folder (no Rocket.toml) on the test database.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command
            .args(args)
            .current_dir(&self.dir)
            .env_remove("GATEHOUSE_PASSWORD")
            .env("ROCKET_DATABASE_URL", &self.database.url)
            .env("RUST_LOG", "error");
        command
    }

    fn run(&self, args: &[&str], password: Option<&str>) -> Output {
        let mut command = self.command(args);
        if let Some(password) = password {
            command.env("GATEHOUSE_PASSWORD", password);
        }
        command.stdin(Stdio::null()).output().unwrap()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[rocket::async_test]
async fn createsuperuser_makes_an_account_that_can_sign_in_with_every_role() {
    let run = Run::new().await;

    let output = run.run(
        &[
            "createsuperuser",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ],
        Some(PASSWORD),
    );

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("superuser `root` created"));
    let app = app().database(run.database.url.clone()).spawn().await;
    let browser = app.browser();
    browser
        .login("root", PASSWORD)
        .await
        .assert_redirect("/account");
    let account = browser.get("/account").await;
    assert!(account.body.contains("Superuser"));
}

#[rocket::async_test]
async fn createsuperuser_reads_the_password_from_stdin() {
    let run = Run::new().await;
    let mut child = run
        .command(&[
            "createsuperuser",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();

    let output = child.wait_with_output().unwrap();

    assert!(output.status.success(), "{}", stderr(&output));
}

#[rocket::async_test]
async fn createsuperuser_refuses_a_duplicate_with_a_clear_message() {
    let run = Run::new().await;
    let args = [
        "createsuperuser",
        "--username",
        "root",
        "--email",
        "root@example.com",
    ];
    assert!(run.run(&args, Some(PASSWORD)).status.success());

    let again = run.run(
        &[
            "createsuperuser",
            "--username",
            "ROOT",
            "--email",
            "other@example.com",
        ],
        Some(PASSWORD),
    );

    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("username: That username is taken."),
        "{}",
        stderr(&again)
    );
}

#[rocket::async_test]
async fn createsuperuser_validates_like_sign_up() {
    let run = Run::new().await;

    let weak = run.run(
        &[
            "createsuperuser",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ],
        Some("password"),
    );
    assert_eq!(weak.status.code(), Some(1));
    assert!(stderr(&weak).contains("password:"), "{}", stderr(&weak));

    let bad_email = run.run(
        &["createsuperuser", "--username", "root", "--email", "nope"],
        Some(PASSWORD),
    );
    assert_eq!(bad_email.status.code(), Some(1));
    assert!(stderr(&bad_email).contains("email: Enter a valid email address."));

    let missing = run.run(&["createsuperuser", "--username", "root"], Some(PASSWORD));
    assert_eq!(missing.status.code(), Some(2));
}

#[rocket::async_test]
async fn migrate_brings_the_schema_up_and_is_idempotent() {
    let run = Run::new().await;

    for _ in 0..2 {
        let output = run.run(&["migrate"], None);
        assert!(output.status.success(), "{}", stderr(&output));
    }
}

#[rocket::async_test]
async fn a_bad_config_value_stops_start_up_with_one_line_naming_the_key() {
    let run = Run::new().await;

    let bad_url = run
        .command(&["migrate"])
        .env("ROCKET_DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(1));
    let message = stderr(&bad_url);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(message.contains("`database_url`"), "{message}");

    let bad_number = run
        .command(&["serve"])
        .env("ROCKET_SESSION_IDLE_MINUTES", "soon")
        .output()
        .unwrap();
    assert_eq!(bad_number.status.code(), Some(1));
    let message = stderr(&bad_number);
    assert!(message.contains("`session_idle_minutes`"), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");
}

#[rocket::async_test]
async fn serve_without_a_secret_key_generates_one_readable_only_by_its_owner() {
    let run = Run::new().await;

    // A bad port stops the launch right after the key is made.
    let output = run
        .command(&["serve"])
        .env("ROCKET_PORT", "not-a-port")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("`port`"), "{}", stderr(&output));
    let key_file = run.dir.join("data/secret_key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 88);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[rocket::async_test]
async fn an_unknown_command_prints_the_usage() {
    let run = Run::new().await;

    let output = run.run(&["launch"], None);

    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("usage: gatehouse"));
}
