use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

fn comptoir(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_comptoir"));
    command
        .current_dir(dir)
        .env_remove("COMPTOIR_DATABASE_URL")
        .env_remove("COMPTOIR_JWT_SECRET")
        .env("COMPTOIR_LOG", "warn");
    command
}

/// Runs `comptoir create-user`, the password piped on standard input.
fn create_user(dir: &Path, email: &str, role: &str, password: &str) -> Output {
    let mut child = comptoir(dir)
        .args([
            "create-user",
            "--email",
            email,
            "--role",
            role,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn schema_prints_the_sdl_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let output = comptoir(dir.path())
        .arg("schema")
        .env("COMPTOIR_LOG", "debug")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        comptoir_api::sdl()
    );
}

#[test]
fn migrate_create_user_and_seed_demo_work_on_the_default_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = comptoir(dir.path()).arg("migrate").output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(dir.path().join("comptoir.db").exists());
    assert!(dir.path().join("comptoir.jwt-secret").exists());

    let output = create_user(dir.path(), "boss@example.test", "ADMIN", "a long password");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("boss@example.test (ADMIN)"));

    let duplicate = create_user(
        dir.path(),
        "BOSS@example.test",
        "MANAGER",
        "another long password",
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let seed = comptoir(dir.path()).arg("seed-demo").output().unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let printed = String::from_utf8_lossy(&seed.stdout);
    assert!(
        printed.contains("Demo catalog: 205 products; 30 customers; 2 template carts."),
        "{printed}"
    );
    // A second run keeps the data and resets the passwords.
    let again = comptoir(dir.path()).arg("seed-demo").output().unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(!String::from_utf8_lossy(&again.stdout).contains("Demo catalog"));
    for role in ["ADMIN", "MANAGER", "ACCOUNT_CLIENT", "IDENTIFIED"] {
        assert!(printed.contains(role), "{printed}");
    }
}

/// On PostgreSQL, commands that sign no token run without the JWT secret (which only the
/// serving instances need).
#[tokio::test]
async fn migrate_and_create_user_need_no_jwt_secret_on_postgres() {
    let Ok(base) = std::env::var("COMPTOIR_TEST_DATABASE_URL") else {
        eprintln!("COMPTOIR_TEST_DATABASE_URL is not set: skipped");
        return;
    };
    let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
    crate::helpers::execute_pg(&base, &format!("CREATE SCHEMA \"{schema}\"")).await;
    let dir = tempfile::tempdir().unwrap();
    let with_pg = |mut command: Command| {
        command
            .env("COMPTOIR_DATABASE_URL", &base)
            .env("COMPTOIR_DATABASE_SCHEMA", &schema);
        command
    };
    let migrate = with_pg(comptoir(dir.path()))
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let serve = with_pg(comptoir(dir.path()))
        .args(["--bind", "127.0.0.1:0", "serve"])
        .output()
        .unwrap();
    assert!(!serve.status.success(), "serving does need the secret");
    assert!(String::from_utf8_lossy(&serve.stderr).contains("COMPTOIR_JWT_SECRET"));
    crate::helpers::execute_pg(&base, &format!("DROP SCHEMA \"{schema}\" CASCADE")).await;
}

#[test]
fn an_outbox_concurrency_out_of_range_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["0", "65", "many"] {
        let output = comptoir(dir.path())
            .arg("migrate")
            .env("COMPTOIR_OUTBOX_CONCURRENCY", bad)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("outbox-concurrency"), "{bad}: {stderr}");
    }
    let output = comptoir(dir.path())
        .arg("migrate")
        .env("COMPTOIR_OUTBOX_CONCURRENCY", "64")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
