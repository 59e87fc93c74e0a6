//! TLS to PostgreSQL: `DB_SSLMODE=verify-full` with a CA (`DB_SSLROOTCERT`) against a private
//! cluster serving a certificate of that CA, and the parts variables (`DB_HOST` …) instead of a
//! URL. Certificates are made with the `openssl` CLI for each run.

use crate::common::{app, fresh_database_on};
use std::path::Path;
use std::process::Command;
use webedt_contract::names::*;
use webedt_devdb::{Cluster, ClusterOptions, ServerTls};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it; also an unrelated CA.
fn certificates(dir: &Path) -> ServerTls {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n\
         basicConstraints=CA:FALSE\n",
    )
    .unwrap();
    for (key, cert, cn) in [
        ("ca.key", "ca.crt", "webedt test CA"),
        ("other.key", "other.crt", "other CA"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                key,
                "-out",
                cert,
                "-days",
                "2",
                "-subj",
                &format!("/CN={cn}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    ServerTls {
        cert_pem: std::fs::read_to_string(dir.join("server.crt")).unwrap(),
        key_pem: std::fs::read_to_string(dir.join("server.key")).unwrap(),
    }
}

#[tokio::test]
async fn verify_full_with_the_right_ca_serves_and_with_another_ca_is_refused() {
    let dir = std::env::temp_dir().join(format!("webedt-db-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tls = certificates(&dir);
    let cluster =
        tokio::task::spawn_blocking(move || Cluster::start(ClusterOptions::ephemeral().tls(tls)))
            .await
            .unwrap()
            .expect("start a private PostgreSQL with TLS");
    let db_url = fresh_database_on(&cluster.url("postgres")).await;
    let db_name = db_url.rsplit_once('/').unwrap().1.to_string();
    let ca = dir.join("ca.crt").display().to_string();

    // The parts instead of a URL, verify-full against our CA: it migrates and serves.
    let verified = app()
        .database(&db_url)
        .env(DB_SSLMODE, "verify-full")
        .env(DB_SSLROOTCERT, &ca)
        .spawn()
        .await;
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(verified.state.db.pool())
            .await
            .unwrap();
    assert!(ssl, "the connection is encrypted");
    let res = verified
        .client
        .post(verified.url("/api/auth/register"))
        .json(&serde_json::json!({"email": "tls@example.com", "password": "password 123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    verified.shutdown().await.unwrap();

    // Through DB_HOST and friends (the URL cleared): same database, same result.
    let port = cluster.port().to_string();
    let parts = app_from_parts(&port, &db_name, &ca).await;
    assert_eq!(parts.get("/ready").await.status(), 200);
    parts.shutdown().await.unwrap();

    // A CA that did not sign the server's certificate: never ready, and says why in /health.
    let other = dir.join("other.crt").display().to_string();
    let refused = app()
        .database(&db_url)
        .env(DB_SSLMODE, "verify-full")
        .env(DB_SSLROOTCERT, &other)
        .no_wait()
        .spawn()
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(refused.get("/ready").await.status(), 503);
    refused.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

async fn app_from_parts(port: &str, db: &str, ca: &str) -> crate::common::TestApp {
    app()
        .database("postgres://unused@127.0.0.1:1/unused")
        .env(DATABASE_URL, "")
        .env(DB_HOST, "127.0.0.1")
        .env(DB_PORT, port)
        .env(DB_NAME, db)
        .env(DB_USER, "postgres")
        .env(DB_SSLMODE, "verify-full")
        .env(DB_SSLROOTCERT, ca)
        .spawn()
        .await
}
