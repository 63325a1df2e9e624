//! The binary as an operator runs it: a real process, signals and its logs
//! (SPEC §9: SIGTERM drains in-flight requests and exits 0; logs carry no
//! personal data).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;

const TOKEN: &str = "process-test-token-0123456789";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh database for one test: a SQLite file, or a scratch database on
/// `TEST_DATABASE_URL`'s PostgreSQL server (dropped afterwards).
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres { server: String, name: String },
}

impl Db {
    fn sqlite(dir: &Path) -> Self {
        Self::Sqlite(dir.join("rg.db"))
    }

    /// `None` when `REPLYGUARD_TEST_SKIP_POSTGRES=1` says this machine has none.
    fn postgres(test: &str) -> Option<Self> {
        if std::env::var("REPLYGUARD_TEST_SKIP_POSTGRES").as_deref() == Ok("1") {
            return None;
        }
        let url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let server = url
            .rsplit_once('/')
            .map_or(url.clone(), |(s, _)| s.to_owned());
        let name = format!("process_{test}_{}", std::process::id());
        let mut conn = diesel::pg::PgConnection::establish(&url).unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .unwrap();
        Some(Self::Postgres { server, name })
    }

    fn url(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres { server, name } => format!("{server}/{name}"),
        }
    }

    fn stored_ids(&self) -> Vec<i64> {
        use replyguard::storage::schema::comments;
        let query = comments::table.select(comments::id);
        match self {
            Self::Sqlite(path) => {
                let mut conn =
                    diesel::sqlite::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
                query.load(&mut conn).unwrap()
            }
            Self::Postgres { .. } => {
                let mut conn = diesel::pg::PgConnection::establish(&self.url()).unwrap();
                query.load(&mut conn).unwrap()
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Self::Postgres { server, name } = self
            && let Ok(mut conn) = diesel::pg::PgConnection::establish(&format!("{server}/postgres"))
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

/// `replyguard serve` on `db`, logs to `log`.
fn serve(db: &Db, port: u16, log: &Path, extra: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_replyguard"));
    command
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("REPLYGUARD_BIND", format!("127.0.0.1:{port}"))
        .env("REPLYGUARD_ADMIN_TOKEN", TOKEN)
        .env("REPLYGUARD_FLOOD_SECONDS", "0")
        .env("REPLYGUARD_RATE_LIMIT_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (name, value) in extra {
        command.env(name, value);
    }
    let child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while request(port, "GET", "/healthz", &[], "").map(|r| r.0) != Some(200) {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// One HTTP/1.1 request on its own connection: (status, body), or `None`
/// when the connection fails.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn terminate(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn sigterm_drains_in_flight_submissions_and_exits_zero_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    drains_in_flight_submissions(&Db::sqlite(dir.path()), dir.path());
}

#[test]
fn sigterm_drains_in_flight_submissions_and_exits_zero_on_postgres() {
    let Some(db) = Db::postgres("drain") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    drains_in_flight_submissions(&db, dir.path());
}

fn drains_in_flight_submissions(db: &Db, dir: &Path) {
    let port = free_port();
    let mut child = serve(db, port, &dir.join("log"), &[]);

    // Eight clients post as fast as they can; SIGTERM arrives mid-burst, once
    // twenty comments were acknowledged.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let answered = answered.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for n in 0..400 {
                    let body = serde_json::json!({
                        "post_id": "drain", "author_name": "Drain",
                        "author_email": format!("c{c}n{n}@example.com"),
                        "content": format!("Comment {n} from client {c}, posted during shutdown."),
                    })
                    .to_string();
                    match request(
                        port,
                        "POST",
                        "/api/v1/comments",
                        &[("Content-Type", "application/json")],
                        &body,
                    ) {
                        Some((201, body)) => {
                            let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
                            acknowledged.push(reply["id"].as_i64().unwrap());
                            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Some((status, body)) => panic!("a {status} during the drain: {body}"),
                        None => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 20 {
        assert!(Instant::now() < deadline, "no comment acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    terminate(&child);
    let signalled = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    let after_signal = TcpStream::connect(("127.0.0.1", port));
    let acknowledged: Vec<i64> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(35),
            "no exit within the drain timeout"
        );
        std::thread::sleep(Duration::from_millis(50));
    };

    assert!(status.success(), "exit status {status:?}");
    assert!(
        after_signal.is_err(),
        "new connections are refused after the signal"
    );
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < 3_200,
        "the signal came mid-burst: {}",
        acknowledged.len()
    );
    let stored = db.stored_ids();
    let lost: Vec<&i64> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
}

#[test]
fn json_logs_carry_request_ids_and_no_personal_data_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    logs_carry_no_personal_data(&Db::sqlite(dir.path()), dir.path());
}

#[test]
fn json_logs_carry_request_ids_and_no_personal_data_on_postgres() {
    let Some(db) = Db::postgres("logs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    logs_carry_no_personal_data(&db, dir.path());
}

fn logs_carry_no_personal_data(db: &Db, dir: &Path) {
    let port = free_port();
    let log = dir.join("log");
    let mut child = serve(
        db,
        port,
        &log,
        &[
            ("REPLYGUARD_LOG_FORMAT", "json"),
            ("RUST_LOG", "debug"),
            ("REPLYGUARD_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("REPLYGUARD_MIN_EXAMPLES_PER_CLASS", "2"),
        ],
    );
    let email = "very.private.person@example.org";
    let ip = "203.0.113.77";
    let text = "Unmistakable comment text kq7zv about the second chapter";
    let imported = "Imported example text wq9xp, buy cheap pills";
    let json = [
        ("Content-Type", "application/json"),
        ("X-Forwarded-For", ip),
    ];
    let auth = format!("Bearer {TOKEN}");
    let admin = [
        ("Content-Type", "application/json"),
        ("Authorization", auth.as_str()),
    ];

    // Post (JSON and form), moderate, import, train: the paths that handle personal data.
    let posted = request(port, "POST", "/api/v1/comments", &json,
        &serde_json::json!({"post_id": "p", "author_name": "Private Person", "author_email": email, "content": text}).to_string()).unwrap();
    let form_body = format!(
        "comment_post_ID=p&author=Private+Person&email={}&comment=Form+{}",
        email.replace('@', "%40"),
        text.replace(' ', "+")
    );
    request(
        port,
        "POST",
        "/api/v1/comments",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Forwarded-For", ip),
        ],
        &form_body,
    )
    .unwrap();
    let id = serde_json::from_str::<serde_json::Value>(&posted.1).unwrap()["id"]
        .as_i64()
        .unwrap();
    request(
        port,
        "PATCH",
        &format!("/api/v1/admin/comments/{id}"),
        &admin,
        r#"{"status": "approved"}"#,
    )
    .unwrap();
    request(
        port,
        "GET",
        &format!("/api/v1/admin/comments?q={email}"),
        &admin,
        "",
    )
    .unwrap();
    let rows: Vec<String> = (0..3)
        .flat_map(|n| {
            [
                serde_json::json!({"content": format!("{imported} {n}"), "label": "spam", "author_email": email}).to_string(),
                serde_json::json!({"content": format!("A kind ham remark {n}"), "label": "ham"}).to_string(),
            ]
        })
        .collect();
    request(
        port,
        "POST",
        "/api/v1/admin/training-examples",
        &admin,
        &rows.join("\n"),
    )
    .unwrap();
    let job = request(port, "POST", "/api/v1/admin/models/train", &admin, "{}").unwrap();
    assert_eq!(job.0, 202, "{}", job.1);
    let job_id = serde_json::from_str::<serde_json::Value>(&job.1).unwrap()["job_id"]
        .as_i64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = request(
            port,
            "GET",
            &format!("/api/v1/admin/jobs/{job_id}"),
            &admin,
            "",
        )
        .unwrap();
        let status = serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"].clone();
        if status == "succeeded" || status == "failed" {
            break;
        }
        assert!(Instant::now() < deadline, "the training job did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    terminate(&child);
    child.wait().unwrap();

    let logs = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 10, "{logs}");
    let mut with_request_id = 0;
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not one JSON object per line ({err}): {line}"));
        assert!(value.is_object(), "{line}");
        if line.contains("\"http.method\"") || line.contains("request finished") {
            assert!(
                line.contains("request_id"),
                "a request's line without its id: {line}"
            );
            with_request_id += 1;
        }
    }
    assert!(with_request_id >= 8, "{with_request_id} request lines");
    for secret in [
        email,
        ip,
        TOKEN,
        text,
        imported,
        "Private Person",
        "kq7zv",
        "wq9xp",
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}
