//! The command line: `gatehouse [serve]`, `gatehouse migrate`,
//! `gatehouse createsuperuser --username U --email E`.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use rocket::figment::Figment;

use crate::accounts::password::PasswordHasher;
use crate::accounts::service::{self, RegisterError, Registration, Roles};
use crate::config::{self, AppConfig};

const USAGE: &str = "usage: gatehouse [serve]
       gatehouse migrate
       gatehouse createsuperuser --username U --email E
         (password from GATEHOUSE_PASSWORD, else read from stdin)";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    CreateSuperuser { username: String, email: String },
    Help,
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        None => Ok(Command::Serve),
        Some("serve") if args.len() == 1 => Ok(Command::Serve),
        Some("migrate") if args.len() == 1 => Ok(Command::Migrate),
        Some("help" | "--help" | "-h") => Ok(Command::Help),
        Some("createsuperuser") => {
            let (mut username, mut email) = (None, None);
            let mut rest = args[1..].iter();
            while let Some(flag) = rest.next() {
                let slot = match flag.as_str() {
                    "--username" => &mut username,
                    "--email" => &mut email,
                    other => return Err(format!("unknown option `{other}`")),
                };
                *slot = Some(
                    rest.next()
                        .ok_or(format!("`{flag}` needs a value"))?
                        .clone(),
                );
            }
            match (username, email) {
                (Some(username), Some(email)) => Ok(Command::CreateSuperuser { username, email }),
                _ => Err("createsuperuser needs --username and --email".to_owned()),
            }
        }
        Some(other) => Err(format!("unknown command `{other}`")),
    }
}

/// Runs the command line; the process exits with the returned code.
pub async fn run(args: Vec<String>) -> ExitCode {
    let command = match parse(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if command == Command::Help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let format = config::with_defaults(rocket::Config::figment());
    // Held to the end: dropping it writes the log lines still queued.
    let _log_writer = match crate::telemetry::logs::LogFormat::from_figment(&format) {
        Ok(format) => crate::telemetry::logs::init(format),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let figment = match prepare_figment(&command) {
        Ok(figment) => figment,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        Command::Serve => serve(figment).await,
        Command::Migrate => migrate(&figment).await,
        Command::CreateSuperuser { username, email } => {
            create_superuser(&figment, &username, &email).await
        }
        Command::Help => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Rocket's figment with Gatehouse's defaults, a secret key for `serve`,
/// checked so that a bad value fails here, in one line naming its key.
fn prepare_figment(command: &Command) -> Result<Figment, config::ConfigError> {
    let mut figment = config::with_defaults(rocket::Config::figment());
    if *command == Command::Serve {
        figment = config::with_persistent_secret_key(figment)?;
    } else {
        // migrate and createsuperuser use no key; validate with a throwaway.
        figment = figment.join(("secret_key", "00".repeat(32)));
    }
    AppConfig::from_figment(&figment)?;
    Ok(figment)
}

async fn serve(figment: Figment) -> Result<(), String> {
    crate::rocket(figment)
        .launch()
        .await
        .map(|_| ())
        .map_err(|e| e.pretty_print().to_owned())
}

async fn connect(figment: &Figment) -> Result<sea_orm::DatabaseConnection, String> {
    let config = AppConfig::from_figment(figment).map_err(|e| e.to_string())?;
    let db = crate::db::connect(&config.database_url)
        .await
        .map_err(|e| format!("cannot connect to `database_url`: {e}"))?;
    crate::db::migrate(&db)
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    Ok(db)
}

async fn migrate(figment: &Figment) -> Result<(), String> {
    connect(figment).await?;
    println!("database is up to date");
    Ok(())
}

async fn create_superuser(figment: &Figment, username: &str, email: &str) -> Result<(), String> {
    let password = match std::env::var("GATEHOUSE_PASSWORD") {
        Ok(password) => password,
        Err(_) => read_password()?,
    };
    let config = AppConfig::from_figment(figment).map_err(|e| e.to_string())?;
    let db = connect(figment).await?;
    let settings = config.argon2;
    let hasher = rocket::tokio::task::spawn_blocking(move || PasswordHasher::new(settings))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let roles = Roles {
        is_member: true,
        is_staff: true,
        is_superuser: true,
    };
    let registration = Registration {
        username,
        email,
        password: &password,
        min_password_length: config.password_min_length,
        // Whoever runs the command typed the address; nothing is mailed.
        verification_mail: None,
    };
    let now = crate::clock::Clock::system().now();
    match service::register(&db, &hasher, now, registration, roles).await {
        Ok(user) => {
            println!("superuser `{}` created (id {})", user.username, user.id);
            Ok(())
        }
        Err(RegisterError::Invalid(errors) | RegisterError::Taken(errors)) => Err(errors
            .iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect::<Vec<_>>()
            .join("; ")),
        Err(
            e @ (RegisterError::Hashing(_) | RegisterError::Db(_) | RegisterError::Internal(_)),
        ) => Err(e.to_string()),
    }
}

fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (input is shown; prefer GATEHOUSE_PASSWORD): ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse(&args(&[])), Ok(Command::Serve));
        assert_eq!(parse(&args(&["serve"])), Ok(Command::Serve));
        assert_eq!(parse(&args(&["migrate"])), Ok(Command::Migrate));
        assert_eq!(
            parse(&args(&[
                "createsuperuser",
                "--email",
                "a@b.co",
                "--username",
                "root"
            ])),
            Ok(Command::CreateSuperuser {
                username: "root".into(),
                email: "a@b.co".into()
            })
        );
    }

    #[test]
    fn bad_command_lines_are_refused() {
        assert!(parse(&args(&["createsuperuser", "--username"])).is_err());
        assert!(parse(&args(&["createsuperuser", "--username", "x"])).is_err());
        assert!(parse(&args(&["createsuperuser", "--admin", "x"])).is_err());
        assert!(parse(&args(&["launch"])).is_err());
        assert!(parse(&args(&["serve", "now"])).is_err());
    }
}
