//! The SQLite FTS5 search baseline.
//!
//! One FTS5 table over (username, display name) with the `unicode61`
//! tokenizer (diacritics removed) and prefix indexes for 1, 2 and 3
//! characters (`prefix='1 2 3'`), plus a table of followers counts; a query
//! is every word as a prefix term (`"word"*`, implicit AND), ranked by
//! followers, top 20. FTS5 has no typo tolerance: a one-typo query finds
//! only what matches it exactly by prefix.

use rusqlite::{Connection, params};

use crate::dataset::Dataset;

#[derive(Debug)]
pub struct Fts5 {
    conn: Connection,
}

impl Fts5 {
    /// Builds the index in memory from the dataset (followers counts from the
    /// generated graph).
    pub fn build(ds: &Dataset) -> Fts5 {
        let conn = Connection::open_in_memory().expect("open fts db");
        conn.execute_batch(
            "CREATE VIRTUAL TABLE users_fts USING fts5(username, name, \
                 tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3');
             CREATE TABLE ranks (id INTEGER PRIMARY KEY, followers INTEGER NOT NULL);",
        )
        .expect("create fts");
        let deg = ds.in_degrees();
        conn.execute_batch("BEGIN").expect("begin");
        {
            let mut ins = conn
                .prepare("INSERT INTO users_fts (rowid, username, name) VALUES (?1, ?2, ?3)")
                .expect("prepare");
            let mut rank = conn
                .prepare("INSERT INTO ranks (id, followers) VALUES (?1, ?2)")
                .expect("prepare");
            for (i, u) in ds.users.iter().enumerate() {
                ins.execute(params![i as i64, u.username, u.name])
                    .expect("insert");
                rank.execute(params![i as i64, deg[i]])
                    .expect("insert rank");
            }
        }
        conn.execute_batch("COMMIT").expect("commit");
        conn.execute_batch("INSERT INTO users_fts(users_fts) VALUES('optimize')")
            .expect("optimize");
        Fts5 { conn }
    }

    /// The FTS5 query for a typed text: each word a quoted prefix term.
    pub fn match_expr(query: &str) -> Option<String> {
        let q = query.trim().trim_start_matches('@');
        let terms: Vec<String> = q
            .split_whitespace()
            .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
            .collect();
        (!terms.is_empty()).then(|| terms.join(" "))
    }

    /// The top `k` user indexes for `query`, by followers.
    pub fn top(&self, query: &str, k: usize) -> Vec<i64> {
        let Some(expr) = Self::match_expr(query) else {
            return Vec::new();
        };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT f.rowid FROM users_fts f JOIN ranks r ON r.id = f.rowid \
                 WHERE users_fts MATCH ?1 ORDER BY r.followers DESC LIMIT ?2",
            )
            .expect("prepare");
        st.query_map(params![expr, k as i64], |r| r.get(0))
            .expect("fts query")
            .map(|r| r.expect("row"))
            .collect()
    }
}
