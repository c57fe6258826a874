//! Dropping the index stops its background commit thread and releases the
//! directory. One test in its own binary, so no other index's thread is
//! counted.
#![allow(clippy::unwrap_used)]

use kinfolk::search::{IndexBatch, SearchDoc};
use kinfolk::{SearchIndex, UserId};
use kinfolk_search::TantivyIndex;

/// Threads of this process named like the commit thread (Linux truncates
/// names to 15 bytes).
#[cfg(target_os = "linux")]
fn commit_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with("kinfolk-search"))
        .count()
}

#[cfg(not(target_os = "linux"))]
fn commit_threads() -> usize {
    0
}

#[tokio::test]
async fn drop_stops_the_commit_thread_and_frees_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let before = commit_threads();
    let mut open = Vec::new();
    for i in 0..3 {
        open.push(TantivyIndex::open_in_ram().unwrap());
        open.push(TantivyIndex::open(dir.path().join(i.to_string())).unwrap());
    }
    for index in &open {
        index
            .apply(IndexBatch {
                upserts: vec![SearchDoc {
                    id: UserId::new(),
                    username: "someone".into(),
                    name: "Some One".into(),
                    followers_count: 0,
                }],
                removals: vec![],
                upto_seq: 1,
            })
            .await
            .unwrap();
    }
    if cfg!(target_os = "linux") {
        // A new thread names itself once it runs: give them a moment.
        let start = std::time::Instant::now();
        while commit_threads() < before + 6 && start.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(commit_threads(), before + 6);
    }
    // Drop joins the threads: none is left, with no waiting.
    drop(open);
    assert_eq!(commit_threads(), before);
    // The directory lock is free at once: reopening works.
    for i in 0..3 {
        TantivyIndex::open(dir.path().join(i.to_string())).unwrap();
    }
}
