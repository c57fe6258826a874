//! Every statement the store runs is an index lookup or a range scan:
//! `EXPLAIN QUERY PLAN` of each statement in `kinfolk_sqlite::sql::ALL` must
//! not scan a table that grows with users or edges, nor sort rows for an
//! `ORDER BY` (a page must come straight off an index).
#![allow(clippy::unwrap_used)]

mod common;

use rusqlite::Connection;

/// Tables whose size grows with users, edges, rooms or the feed.
const GROWING: &[&str] = &[
    "users",
    "username_claims",
    "edges",
    "rooms",
    "memberships",
    "connected_accounts",
    "changes",
];

fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    // EXPLAIN QUERY PLAN does not run the statement; NULLs fill its parameters.
    let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
    stmt.query_map(rusqlite::params_from_iter(nulls), |row| {
        row.get::<_, String>(3)
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn schema_connection() -> (tempfile::TempDir, Connection) {
    let (dir, path) = common::temp_db();
    drop(kinfolk_sqlite::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    rusqlite::vtab::array::load_module(&conn).unwrap();
    (dir, conn)
}

#[test]
fn no_statement_scans_a_growing_table_or_sorts() {
    let (_dir, conn) = schema_connection();
    let mut failures = Vec::new();
    let mut searched = 0;
    for (name, sql) in kinfolk_sqlite::sql::ALL {
        let lines = plan(&conn, sql);
        // Shown with `--nocapture`.
        println!("{name}: {lines:?}");
        for line in &lines {
            let scans = GROWING.iter().any(|t| {
                line.strip_prefix("SCAN ")
                    .is_some_and(|rest| rest.split_whitespace().next() == Some(t))
            });
            if scans || line.contains("TEMP B-TREE") {
                failures.push(format!("{name}: {line}\n    {sql}"));
            }
            if line.starts_with("SEARCH ") {
                searched += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "full scans or sorts:\n{}",
        failures.join("\n")
    );
    // The check looked at real plans (not an empty list).
    assert!(searched >= 25, "only {searched} SEARCH lines");
}

#[test]
fn every_statement_touching_a_growing_table_searches_it() {
    let (_dir, conn) = schema_connection();
    for (name, sql) in kinfolk_sqlite::sql::ALL {
        let lower = sql.to_ascii_lowercase();
        let reads = lower.starts_with("select")
            || lower.starts_with("delete")
            || lower.starts_with("update");
        if !reads {
            continue; // INSERTs and transaction control have no plan
        }
        let lines = plan(&conn, sql);
        assert!(
            lines.iter().any(|l| l.starts_with("SEARCH ")),
            "{name} does not search an index: {lines:?}"
        );
    }
}

#[test]
fn edges_between_probes_the_primary_key_in_both_directions() {
    let (_dir, conn) = schema_connection();
    let lines = plan(&conn, kinfolk_sqlite::sql::EDGES_BETWEEN);
    let pk = lines
        .iter()
        .filter(|l| {
            l.starts_with("SEARCH edges USING PRIMARY KEY (kind=? AND from_id=? AND to_id=?)")
        })
        .count();
    assert_eq!(pk, 2, "{lines:#?}");
}

#[test]
fn lists_use_their_seq_indexes() {
    let (_dir, conn) = schema_connection();
    let expect = [
        (
            kinfolk_sqlite::sql::EDGES_FROM,
            "edges_from_seq (kind=? AND from_id=? AND seq<?)",
        ),
        (
            kinfolk_sqlite::sql::EDGES_TO,
            "edges_to_seq (kind=? AND to_id=? AND seq<?)",
        ),
        (
            kinfolk_sqlite::sql::MEMBERSHIPS_OF,
            "memberships_by_user (user_id=? AND seq<?)",
        ),
        (
            kinfolk_sqlite::sql::MEMBERS,
            "memberships_by_room (room_id=? AND seq>?)",
        ),
    ];
    for (sql, index) in expect {
        let lines = plan(&conn, sql);
        assert!(lines.iter().any(|l| l.contains(index)), "{sql}: {lines:?}");
    }
}

/// A list page reads only the `(kind, end, seq)` index, never the edge rows:
/// the index holds the primary key, so `(seq, other end)` comes off it.
#[test]
fn edge_keys_come_from_a_covering_index() {
    let (_dir, conn) = schema_connection();
    for (name, want) in [
        ("EDGE_KEYS_FROM", "edges_from_seq"),
        ("EDGE_KEYS_TO", "edges_to_seq"),
    ] {
        let sql = kinfolk_sqlite::sql::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, sql)| *sql)
            .unwrap();
        let lines = plan(&conn, sql);
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("USING COVERING INDEX {want}"))),
            "{name}: {lines:?}"
        );
    }
}
