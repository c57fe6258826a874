//! Test support (feature `test-support`, not part of the API): the
//! throwaway PostgreSQL cluster of one test binary, shared by this crate's
//! tests and by other crates' tests that need a server (the `kinfolk`
//! command's).
//!
//! The first caller of [`cluster`] starts ONE cluster for the whole process:
//! `initdb` into a temp dir (on `/dev/shm` when there is one, or under
//! `KINFOLK_PG_TMP`), the Unix socket in that dir, no TCP. When the tests
//! run as root, the server runs as the `postgres` OS user (`runuser`). A
//! watchdog process stops the cluster and removes its dir when the process
//! exits.
//!
//! `KINFOLK_PG_URL` points the tests at an existing server instead (its
//! user must be allowed to `CREATE DATABASE`). With neither a URL nor
//! PostgreSQL binaries, [`cluster`] panics when `CI=true`, and otherwise
//! prints one skip line and ends the process (exit status 0): give such
//! tests their own test binary.
//!
//! Everything here panics on failure: it is for tests.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the tests' server is.
#[derive(Debug)]
pub struct Cluster {
    /// Connection string of the `postgres` maintenance database.
    admin: String,
    /// Builds the connection string of a database.
    base: Base,
    /// The data directory and binaries, for a cluster we started.
    local: Option<Local>,
}

#[derive(Debug)]
enum Base {
    /// `key=value` pairs; `dbname=` is appended.
    Pairs(String),
    /// A URL; its path is replaced.
    Url(String),
}

#[derive(Debug)]
struct Local {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The process's test server, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

// The watchdog must outlive this process (it stops the cluster after we exit).
#[allow(clippy::zombie_processes)]
fn start() -> Cluster {
    if let Ok(url) = std::env::var("KINFOLK_PG_URL") {
        let base = if url.contains("://") {
            Base::Url(url.clone())
        } else {
            Base::Pairs(url.clone())
        };
        let admin = db_url(&base, "postgres");
        return Cluster {
            admin,
            base,
            local: None,
        };
    }
    let Some(bin) = find_bin() else {
        let msg = "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin and no \
                   KINFOLK_PG_URL: install the `postgresql` package or set KINFOLK_PG_URL";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        // Straight to the file descriptor: the test harness captures `eprintln!`.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED kinfolk-postgres tests: {msg}");
        std::process::exit(0);
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let shm = Path::new("/dev/shm");
    let parent = if let Ok(dir) = std::env::var("KINFOLK_PG_TMP") {
        PathBuf::from(dir)
    } else if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = parent.join(format!("kinfolk-pg-{}-{}", std::process::id(), fastid()));
    std::fs::create_dir_all(&dir).unwrap();
    let local = Local {
        dir: dir.clone(),
        bin,
        as_postgres: root,
    };
    if root {
        run(Command::new("chown").arg("postgres:postgres").arg(&dir));
    }
    let data = dir.join("data");
    run(&mut local.cmd(
        "initdb",
        &[
            "-D",
            path_str(&data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
    ));
    std::fs::write(
        data.join("postgresql.auto.conf"),
        format!(
            "listen_addresses = ''\nunix_socket_directories = '{}'\nport = 5432\n\
             max_connections = 300\nshared_buffers = 64MB\nfsync = on\n",
            dir.display()
        ),
    )
    .unwrap();
    // The watchdog: stops the cluster and removes its dir when we exit.
    let stop = local.shell_cmd(
        "pg_ctl",
        &["-D", path_str(&data), "stop", "-m", "immediate"],
    );
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(watchdog)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    local.pg_ctl_start();
    let base = Base::Pairs(format!(
        "host={} port=5432 user=postgres connect_timeout=5",
        dir.display()
    ));
    Cluster {
        admin: db_url(&base, "postgres"),
        base,
        local: Some(local),
    }
}

fn fastid() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (v >= 15 && bin.join("initdb").is_file()).then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

impl Local {
    fn cmd(&self, tool: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe).args(args);
            c
        } else {
            let mut c = Command::new(exe);
            c.args(args);
            c
        }
    }

    fn shell_cmd(&self, tool: &str, args: &[&str]) -> String {
        let exe = self.bin.join(tool);
        let args = args
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        if self.as_postgres {
            format!("runuser -u postgres -- '{}' {args}", exe.display())
        } else {
            format!("'{}' {args}", exe.display())
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl_start(&self) {
        let data = self.data();
        let log = self.dir.join("server.log");
        run(self
            .cmd(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&data),
                    "-l",
                    path_str(&log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null()));
    }
}

fn db_url(base: &Base, db: &str) -> String {
    match base {
        Base::Pairs(p) => format!("{p} dbname={db}"),
        Base::Url(u) => {
            let (head, query) = match u.split_once('?') {
                Some((h, q)) => (h, Some(q)),
                None => (u.as_str(), None),
            };
            let (scheme, rest) = head.split_once("://").unwrap();
            let authority = rest.split('/').next().unwrap_or("");
            let mut out = format!("{scheme}://{authority}/{db}");
            if let Some(q) = query {
                out.push('?');
                out.push_str(q);
            }
            out
        }
    }
}

/// Runs blocking client work on a plain thread (the sync client must not
/// run inside the tests' tokio runtime).
pub fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

impl Cluster {
    /// Runs SQL on the maintenance database.
    pub fn admin(&self, sql: &str) {
        let admin = self.admin.clone();
        let sql = sql.to_owned();
        blocking(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|e| panic!("connect to the test server: {e}"));
            c.batch_execute(&sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    }

    /// Creates a fresh, empty database; returns its name and connection string.
    pub fn create_db(&self) -> (String, String) {
        let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
        let name = format!("kinfolk_t{}_{n}", std::process::id());
        self.admin(&format!("CREATE DATABASE {name} TEMPLATE template0"));
        let url = db_url(&self.base, &name);
        (name, url)
    }

    /// Drops a database, closing its connections.
    pub fn drop_db(&self, name: &str) {
        self.admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }

    /// Restarts the server with `pg_ctl restart -m immediate` (a crash of
    /// the server process: no shutdown checkpoint, recovery from the WAL).
    /// Only for a cluster this binary started.
    pub fn restart_immediate(&self) -> bool {
        let Some(local) = &self.local else {
            return false;
        };
        let data = local.data();
        let log = local.dir.join("server.log");
        run(local
            .cmd(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&data),
                    "-l",
                    path_str(&log),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "60",
                    "restart",
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null()));
        true
    }
}
