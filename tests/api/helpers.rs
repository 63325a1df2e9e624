//! `spawn_app`: a fresh database, the real server on port 0, typed helpers.

use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use replyguard::config::Settings;
use replyguard::startup::Application;
use replyguard::storage::{DatabaseUrl, DbConn};
use serde_json::Value;

/// Generates one test per backend for each named `async fn(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[actix_web::test]
            async fn $name() {
                super::$name($crate::helpers::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[actix_web::test]
            async fn $name() {
                if $crate::helpers::skip_postgres() {
                    return;
                }
                super::$name($crate::helpers::Backend::Postgres).await
            })*
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// PostgreSQL tests run unless `REPLYGUARD_TEST_SKIP_POSTGRES=1` says this
/// machine has none; an unreachable server otherwise fails them loudly.
pub fn skip_postgres() -> bool {
    let skip = std::env::var("REPLYGUARD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("skipping a PostgreSQL test: REPLYGUARD_TEST_SKIP_POSTGRES=1");
    }
    skip
}

/// `host:port` of the test PostgreSQL, for tests that put a proxy before it.
pub fn postgres_address() -> Option<String> {
    let url = url::Url::parse(&postgres_base_url()).ok()?;
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port().unwrap_or(5432)
    ))
}

fn postgres_base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Removes the test's database when the test ends.
enum DbGuard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { schema: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let Self::Postgres { schema } = self
            && let Ok(mut conn) = PgConnection::establish(&postgres_base_url())
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: awc::Client,
    pub database_url: DatabaseUrl,
    _guard: Option<DbGuard>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The bootstrap admin token of every test app.
pub const ADMIN_TOKEN: &str = "test-bootstrap-token-0123456789";

fn fresh_database(backend: Backend) -> (DatabaseUrl, DbGuard) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = DatabaseUrl::Sqlite(dir.path().join("replyguard.db"));
            (url, DbGuard::Sqlite(dir))
        }
        Backend::Postgres => {
            let schema = format!(
                "rg_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                chrono::Utc::now().timestamp_micros()
            );
            let base = postgres_base_url();
            let mut conn = PgConnection::establish(&base).unwrap_or_else(|err| {
                panic!(
                    "PostgreSQL tests need a server at {base} ({err}); \
                     set TEST_DATABASE_URL, or REPLYGUARD_TEST_SKIP_POSTGRES=1 to skip them"
                )
            });
            conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                .unwrap();
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
            (DatabaseUrl::Postgres(url), DbGuard::Postgres { schema })
        }
    }
}

/// Default test settings: a fresh database, port 0, no origins allowed.
pub fn test_settings(url: DatabaseUrl) -> Settings {
    let mut settings = Settings::from_env().unwrap();
    settings.database_url = url;
    settings.bind = "127.0.0.1:0".to_owned();
    settings.db_timeout_ms = 2_000;
    settings.allowed_origins = vec![];
    settings.trusted_proxies = vec![];
    settings.spam_threshold = None;
    settings.ham_threshold = None;
    settings.model_path = None;
    settings.admin_token = Some(ADMIN_TOKEN.into());
    // Tests post many comments from 127.0.0.1 in quick succession; the abuse
    // tests turn these back on.
    settings.flood_seconds = 0;
    settings.rate_limit_per_minute = 0;
    settings.read_rate_limit_per_minute = 0;
    settings.moderation_keys_file = None;
    settings.disallowed_keys_file = None;
    // Training jobs start only when a test asks (the automatic retrain has
    // its own test).
    settings.retrain_after_labels = 0;
    settings
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (url, guard) = fresh_database(backend);
    start(url, Some(guard), configure).await
}

async fn start(
    url: DatabaseUrl,
    guard: Option<DbGuard>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = test_settings(url.clone());
    configure(&mut settings);
    let app = Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run());
    TestApp {
        address,
        client: awc::Client::builder().disable_redirects().finish(),
        database_url: url,
        _guard: guard,
    }
}

/// A response with its body read.
pub struct Reply {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the SPEC §3 envelope with `code` and returns it.
    pub fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        body
    }
}

impl TestApp {
    /// A second instance on the same database (the first one owns its cleanup).
    pub async fn second_instance(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        start(self.database_url.clone(), None, configure).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Reply {
        let res = self.client.get(self.url(path)).send().await.unwrap();
        collect(res).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        let res = self
            .client
            .post(self.url(path))
            .send_json(body)
            .await
            .unwrap();
        collect(res).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let res = self
            .client
            .post(self.url(path))
            .insert_header(("Content-Type", content_type))
            .send_body(body)
            .await
            .unwrap();
        collect(res).await
    }

    pub async fn post_form(&self, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
        let mut req = self.client.post(self.url("/api/v1/comments"));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let res = req.send_form(&pairs).await.unwrap();
        collect(res).await
    }

    /// An admin request with `token` (None: no Authorization header).
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let res = match body {
            Some(body) => req.send_json(body).await,
            None => req.send().await,
        };
        collect(res.unwrap()).await
    }

    /// An admin request with the bootstrap token.
    pub async fn as_admin(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.admin(method, path, body, Some(ADMIN_TOKEN)).await
    }

    /// Sets a comment's status through the admin API and checks it worked.
    pub async fn moderate(&self, id: i64, status: &str) {
        let reply = self
            .as_admin(
                "PATCH",
                &format!("/api/v1/admin/comments/{id}"),
                Some(&serde_json::json!({"status": status})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }

    /// Submits a valid comment with `overrides` applied to the default fields.
    pub async fn submit(&self, overrides: Value) -> Reply {
        let mut body = valid_comment();
        if let (Some(target), Some(source)) = (body.as_object_mut(), overrides.as_object()) {
            for (k, v) in source {
                target.insert(k.clone(), v.clone());
            }
        }
        self.post_json("/api/v1/comments", &body).await
    }

    pub fn conn(&self) -> DbConn {
        match &self.database_url {
            DatabaseUrl::Postgres(url) => DbConn::Pg(PgConnection::establish(url).unwrap()),
            DatabaseUrl::Sqlite(path) => {
                DbConn::Sqlite(SqliteConnection::establish(&path.to_string_lossy()).unwrap())
            }
        }
    }

    pub fn stored_count(&self) -> i64 {
        replyguard::storage::comments::count_all(&mut self.conn()).unwrap()
    }

    /// The stored status of comment `id`.
    pub fn stored_status(&self, id: i64) -> String {
        use replyguard::storage::schema::comments;
        comments::table
            .filter(comments::id.eq(id))
            .select(comments::status)
            .first(&mut self.conn())
            .unwrap()
    }
}

async fn collect<S>(mut res: awc::ClientResponse<S>) -> Reply
where
    S: futures_core::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = res.body().limit(8 * 1024 * 1024).await.unwrap().to_vec();
    Reply {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body,
    }
}

/// A comment that passes every rule and looks like ham.
pub fn valid_comment() -> Value {
    serde_json::json!({
        "post_id": "hello-world",
        "author_name": "Ada Lovelace",
        "author_email": "ada@example.com",
        "content": "Thanks for the clear explanation, it helped me understand the engine.",
    })
}
