//! `DATABASE_URL`: which backend, and where.

use std::fmt;
use std::path::PathBuf;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

use super::DbConn;

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A `postgres://` or `postgresql://` URL, passed to libpq unchanged.
    Postgres(String),
    /// A SQLite database file (created on first use, with its folder).
    Sqlite(PathBuf),
}

/// Why a `DATABASE_URL` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL is empty")]
    Empty,
    #[error(
        "DATABASE_URL scheme `{0}` is not supported: use postgres://USER@HOST/DB or sqlite://PATH"
    )]
    UnknownScheme(String),
    #[error(
        "DATABASE_URL `sqlite://` names no file: use sqlite://PATH, e.g. sqlite://data/replyguard.db"
    )]
    MissingPath,
}

impl DatabaseUrl {
    /// Parses `postgres://…`, `postgresql://…`, `sqlite://PATH`, `sqlite:PATH` or a
    /// plain file path. Any other `scheme://` is refused rather than opened as a
    /// file, since SQLite would silently create a new, empty database under that name.
    ///
    /// # Errors
    /// An empty value, an unknown scheme, or `sqlite://` without a path.
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let path = if let Some(rest) = raw.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = raw.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = raw.split_once("://") {
            return Err(DatabaseUrlError::UnknownScheme(scheme.to_owned()));
        } else {
            raw
        };
        if path.is_empty() {
            return Err(DatabaseUrlError::MissingPath);
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// `"postgres"` or `"sqlite"`, for logs and readiness reports.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    pub(super) fn establish(&self) -> ConnectionResult<DbConn> {
        match self {
            Self::Postgres(url) => {
                PgConnection::establish(&with_connection_limits(url)).map(DbConn::Pg)
            }
            Self::Sqlite(path) => {
                SqliteConnection::establish(&path.to_string_lossy()).map(DbConn::Sqlite)
            }
        }
    }
}

/// libpq settings that bound how long a connection can hang, added to a
/// PostgreSQL URL unless it sets them itself: give up connecting after 2 s
/// (an unreachable or frozen server), and probe an idle connection with TCP
/// keepalives so that a vanished server is noticed within about 20 s.
const CONNECTION_LIMITS: [(&str, &str); 5] = [
    ("connect_timeout", "2"),
    ("keepalives", "1"),
    ("keepalives_idle", "10"),
    ("keepalives_interval", "5"),
    ("keepalives_count", "2"),
];

fn with_connection_limits(url: &str) -> String {
    let mut out = url.to_owned();
    for (name, value) in CONNECTION_LIMITS {
        let set = url
            .split_once('?')
            .is_some_and(|(_, query)| query.split('&').any(|p| p.split('=').next() == Some(name)));
        if !set {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{name}={value}"));
        }
    }
    out
}

/// Never prints credentials: a PostgreSQL URL is shown without its user info.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(parsed) => write!(
                    f,
                    "postgres://{}{}{}",
                    parsed.host_str().unwrap_or(""),
                    parsed.port().map(|p| format!(":{p}")).unwrap_or_default(),
                    parsed.path()
                ),
                Err(_) => f.write_str("postgres://(unparsable)"),
            },
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_selects_backend_by_scheme() {
        let cases = [
            ("postgres://u@h/db", Ok("postgres")),
            ("postgresql://h/db", Ok("postgres")),
            ("sqlite://data/x.db", Ok("sqlite")),
            ("sqlite:x.db", Ok("sqlite")),
            ("data/x.db", Ok("sqlite")),
            (
                "mysql://h/db",
                Err(DatabaseUrlError::UnknownScheme("mysql".into())),
            ),
            (
                "postgress://h/db",
                Err(DatabaseUrlError::UnknownScheme("postgress".into())),
            ),
            ("sqlite://", Err(DatabaseUrlError::MissingPath)),
            ("  ", Err(DatabaseUrlError::Empty)),
        ];
        for (raw, expected) in cases {
            let got = DatabaseUrl::parse(raw).map(|u| u.backend());
            assert_eq!(got, expected, "case {raw:?}");
        }
    }

    #[test]
    fn sqlite_url_keeps_relative_and_absolute_paths() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/replyguard.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/replyguard.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/rg.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("/var/lib/rg.db")))
        );
    }

    #[test]
    fn postgres_urls_get_connection_limits_unless_they_set_them() {
        assert_eq!(
            with_connection_limits("postgres://h/db"),
            "postgres://h/db?connect_timeout=2&keepalives=1&keepalives_idle=10\
             &keepalives_interval=5&keepalives_count=2"
        );
        let own = with_connection_limits("postgres://h/db?options=x&connect_timeout=9");
        assert!(own.starts_with("postgres://h/db?options=x&connect_timeout=9&keepalives=1"));
        assert_eq!(own.matches("connect_timeout").count(), 1);
    }

    #[test]
    fn debug_output_hides_postgres_credentials() {
        let url =
            DatabaseUrl::parse("postgres://admin:hunter2@db.internal/rg").map(|u| format!("{u:?}"));
        assert_eq!(url, Ok("postgres://db.internal/rg".to_owned()));
    }
}
