//! The index's background threads (its writer thread and tantivy's
//! indexing, merge and segment-updater threads) run `background_nice`
//! nicer than the thread that opened it. One test in its own binary, so no
//! other index's threads are looked at. Linux only (nice is per thread).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kinfolk::search::{IndexBatch, SearchDoc};
use kinfolk::{SearchIndex, UserId};
use kinfolk_search::{IndexOptions, TantivyIndex};

/// (name, nice) of every thread of this process.
fn threads() -> Vec<(String, i32)> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| {
            let path = t.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // Field 19 of stat; the fields after the ")" of the name start at 3.
            let nice = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(16)?
                .parse()
                .ok()?;
            Some((name.trim_end().to_string(), nice))
        })
        .collect()
}

/// The nice value of the calling thread.
fn own_nice() -> i32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let fields = stat.rsplit_once(')').unwrap().1;
    fields.split_whitespace().nth(16).unwrap().parse().unwrap()
}

fn doc(seq: u64) -> IndexBatch {
    IndexBatch {
        upserts: vec![SearchDoc {
            id: UserId::new(),
            username: format!("someone{seq}"),
            name: "Some One".into(),
            followers_count: seq,
        }],
        removals: vec![],
        upto_seq: seq,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn background_threads_run_nicer_than_the_opener() {
    let dir = tempfile::tempdir().unwrap();
    let opener = own_nice();
    let want = (opener + 7).min(19);
    let index =
        TantivyIndex::open_with(dir.path(), IndexOptions::default().background_nice(7)).unwrap();
    // Commits respawn tantivy's indexing worker (from the writer thread).
    for seq in 1..=3 {
        index.apply(doc(seq)).await.unwrap();
        index.refresh().await.unwrap();
    }
    let names = [
        "kinfolk-search-",
        "merge_thread_0",
        "merge_thread_1",
        "segment_updater",
        "thrd-tantivy-in",
    ];
    // A new thread names itself once it runs: give them a moment.
    let start = Instant::now();
    let mut seen = threads();
    while !names
        .iter()
        .all(|n| seen.iter().any(|(t, _)| t.starts_with(n)))
        && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(5));
        seen = threads();
    }
    for name in names {
        let matching: Vec<_> = seen.iter().filter(|(t, _)| t.starts_with(name)).collect();
        assert!(!matching.is_empty(), "no thread named {name}*: {seen:?}");
        for (t, nice) in matching {
            assert_eq!(*nice, want, "thread {t} (opener at nice {opener})");
        }
    }
    // The opener's own priority is unchanged.
    assert_eq!(own_nice(), opener);
    // The test's own threads (and the runtime's) keep the opener's value.
    assert!(seen.iter().any(|(_, nice)| *nice == opener));
}
