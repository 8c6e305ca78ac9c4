use std::{
    io::Write,
    process::{Command, Stdio},
};

fn comptoir(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_comptoir"));
    command
        .current_dir(dir)
        .env_remove("COMPTOIR_DATABASE_URL")
        .env_remove("COMPTOIR_JWT_SECRET")
        .env("COMPTOIR_LOG", "warn");
    command
}

#[test]
fn schema_prints_the_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let output = comptoir(dir.path()).arg("schema").output().unwrap();
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

    let mut create = comptoir(dir.path())
        .args([
            "create-user",
            "--email",
            "boss@example.test",
            "--role",
            "ADMIN",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long password\n")
        .unwrap();
    let output = create.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("boss@example.test (ADMIN)"));

    let mut duplicate = comptoir(dir.path())
        .args([
            "create-user",
            "--email",
            "BOSS@example.test",
            "--role",
            "MANAGER",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    duplicate
        .stdin
        .take()
        .unwrap()
        .write_all(b"another long password\n")
        .unwrap();
    let output = duplicate.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));

    let seed = comptoir(dir.path()).arg("seed-demo").output().unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let printed = String::from_utf8_lossy(&seed.stdout);
    for role in ["ADMIN", "MANAGER", "ACCOUNT_CLIENT", "IDENTIFIED"] {
        assert!(printed.contains(role), "{printed}");
    }
}
