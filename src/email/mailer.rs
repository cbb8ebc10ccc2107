//! Delivering one message: the `Mailer` trait, with an SMTP mailer
//! (lettre, pooled, TLS through rustls, timeouts) when `email.smtp_url` is
//! set and a file mailer writing `email.outbox_dir` otherwise; and the
//! `email.*` settings that choose between them.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use lettre::Address;
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;

use super::entity;
use crate::config::AppConfig;

/// Why a message was not delivered this time; the worker tries again.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the message could not be built: {0}")]
    Message(String),
    #[error("the mail server did not take the message: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("the outbox directory could not be written: {0}")]
    File(#[from] std::io::Error),
}

/// A way to hand a message on.
pub trait Mailer: Send + Sync {
    fn send<'a>(
        &'a self,
        message: &'a Message,
        id: i64,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;
}

/// The `email` table of the configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmailSettings {
    pub smtp_url: Option<String>,
    pub outbox_dir: Option<PathBuf>,
    pub from: Option<String>,
}

const DEFAULT_OUTBOX_DIR: &str = "data/outbox";
/// Connecting, and each command, may take this long before the attempt fails.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

impl EmailSettings {
    /// The sender: `email.from`, or `<site_name> <noreply@<host of public_url>>`.
    pub fn from_mailbox(&self, config: &AppConfig) -> Result<Mailbox, String> {
        match &self.from {
            Some(from) => from
                .parse()
                .map_err(|e| format!("email.from {from:?} is not an address: {e}")),
            None => default_from(&config.site_name, &config.public_url),
        }
    }

    /// The mailer these settings describe.
    pub fn mailer(&self) -> Result<Box<dyn Mailer>, String> {
        match &self.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url(url)?)
                    .map_err(|e| format!("email.smtp_url: {e}"))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Ok(Box::new(SmtpMailer(transport)))
            }
            None => Ok(Box::new(FileMailer(
                self.outbox_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_OUTBOX_DIR)),
            ))),
        }
    }
}

/// `noreply@` the host of `public_url` (a bracketed IPv6 address kept
/// whole), named after the site; built, not parsed, so that any site name
/// is quoted as it must be.
fn default_from(site_name: &str, public_url: &str) -> Result<Mailbox, String> {
    let authority = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or(authority);
    let host = match authority.find(']') {
        Some(end) if authority.starts_with('[') => &authority[..=end],
        _ => authority.split(':').next().unwrap_or(authority),
    };
    let address = Address::new("noreply", host).map_err(|e| {
        format!("public_url {public_url:?} gives no sender address ({e}): set email.from")
    })?;
    Ok(Mailbox::new(Some(site_name.to_owned()), address))
}

/// Gatehouse's reading of `smtp_url` in lettre's terms: `smtp://` requires
/// STARTTLS unless `?tls=none` (a local relay), `smtps://` is implicit TLS.
fn lettre_url(raw: &str) -> Result<String, String> {
    let (base, query) = raw.split_once('?').unwrap_or((raw, ""));
    let tls = query.split('&').find_map(|pair| pair.strip_prefix("tls="));
    let unknown = || {
        format!(
            "email.smtp_url: tls={} is not none or required",
            tls.unwrap_or("")
        )
    };
    if base.starts_with("smtps://") {
        match tls {
            None => Ok(base.to_owned()),
            Some(_) => Err(unknown()),
        }
    } else if base.starts_with("smtp://") {
        match tls {
            None | Some("required") => Ok(format!("{base}?tls=required")),
            Some("none") => Ok(base.to_owned()),
            Some(_) => Err(unknown()),
        }
    } else {
        Err("email.smtp_url must start with smtp:// or smtps://".to_owned())
    }
}

/// The message a row describes, plain text, from `from`.
pub fn build(from: &Mailbox, row: &entity::Model) -> Result<Message, MailError> {
    let to: Mailbox = row
        .to_address
        .parse()
        .map_err(|e| MailError::Message(format!("recipient: {e}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(row.body_text.clone())
        .map_err(|e| MailError::Message(e.to_string()))
}

struct SmtpMailer(AsyncSmtpTransport<Tokio1Executor>);

impl Mailer for SmtpMailer {
    fn send<'a>(
        &'a self,
        message: &'a Message,
        _id: i64,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>> {
        Box::pin(async move {
            self.0.send(message.clone()).await?;
            Ok(())
        })
    }
}

/// Writes `<unix-millis>-<id>.eml` into its directory: first to a hidden
/// temporary name, then renamed, so a reader never sees half a message;
/// mode 0600.
struct FileMailer(PathBuf);

impl Mailer for FileMailer {
    fn send<'a>(
        &'a self,
        message: &'a Message,
        id: i64,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>> {
        Box::pin(async move {
            let dir = self.0.clone();
            let bytes = message.formatted();
            rocket::tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                std::fs::create_dir_all(&dir)?;
                let millis = entity::millis(time::OffsetDateTime::now_utc());
                let temporary = dir.join(format!(".{millis}-{id}.eml.tmp"));
                // Readable by the owner only: a message may carry a link
                // that signs someone in or resets a password.
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&temporary)?
                    .write_all(&bytes)?;
                std::fs::rename(&temporary, dir.join(format!("{millis}-{id}.eml")))
            })
            .await
            .map_err(|e| MailError::Message(e.to_string()))??;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{default_from, lettre_url};
    use lettre::message::Mailbox;

    #[test]
    fn the_default_sender_is_noreply_at_the_public_host_named_after_the_site() {
        let from = default_from("Acme, Inc.", "https://id.example.com/base").unwrap();
        assert_eq!(from.email.to_string(), "noreply@id.example.com");
        let reparsed: Mailbox = from.to_string().parse().unwrap();
        assert_eq!(reparsed.name.as_deref(), Some("Acme, Inc."));
        let local = default_from("Gatehouse", "http://127.0.0.1:8000").unwrap();
        assert_eq!(local.to_string(), "Gatehouse <noreply@127.0.0.1>");
        let v6 = default_from("Gatehouse", "http://[::1]:8000").unwrap();
        assert_eq!(v6.email.to_string(), "noreply@[::1]");
    }

    #[test]
    fn smtp_urls_require_tls_unless_told_none() {
        assert_eq!(
            lettre_url("smtp://u:p@mail.example:587").unwrap(),
            "smtp://u:p@mail.example:587?tls=required"
        );
        assert_eq!(
            lettre_url("smtp://127.0.0.1:1025?tls=none").unwrap(),
            "smtp://127.0.0.1:1025"
        );
        assert_eq!(
            lettre_url("smtps://mail.example").unwrap(),
            "smtps://mail.example"
        );
        assert!(lettre_url("smtp://h?tls=maybe").is_err());
        assert!(lettre_url("http://h").is_err());
    }
}
