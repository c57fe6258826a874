//! Crash consistency: the applied feed sequence lives in the tantivy commit
//! payload; a drop without refresh loses only uncommitted changes; a
//! missing or damaged directory reopens empty with `applied_seq` 0.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::time::Duration;

use kinfolk::search::{Boosts, IndexBatch, SearchDoc};
use kinfolk::{Error, SearchIndex, SearchQuery, UserId};
use kinfolk_search::{IndexOptions, TantivyIndex};

fn doc(username: &str, name: &str) -> SearchDoc {
    SearchDoc {
        id: UserId::new(),
        username: username.into(),
        name: name.into(),
        followers_count: 2,
    }
}

/// Background commits effectively off: only `refresh` commits.
fn manual() -> IndexOptions {
    IndexOptions::default().commit_interval(Duration::from_secs(3600))
}

async fn apply(index: &TantivyIndex, upserts: Vec<SearchDoc>, seq: u64) {
    index
        .apply(IndexBatch {
            upserts,
            removals: vec![],
            upto_seq: seq,
        })
        .await
        .unwrap();
}

async fn ids(index: &TantivyIndex, raw: &str) -> Vec<UserId> {
    index
        .top(&SearchQuery::parse(raw).unwrap(), &Boosts::new(), 50)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[tokio::test]
async fn reopen_reports_the_committed_sequence_and_drops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let a = doc("alpha_a", "Alma Able");
    let b = doc("beta_b", "Bruno Baker");
    {
        let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
        assert_eq!(index.applied_seq().await.unwrap(), 0);
        apply(&index, vec![a.clone()], 5).await;
        index.refresh().await.unwrap();
        apply(&index, vec![b.clone()], 7).await;
        assert_eq!(index.applied_seq().await.unwrap(), 7);
    }
    let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
    assert_eq!(index.applied_seq().await.unwrap(), 5);
    assert_eq!(ids(&index, "alma").await, vec![a.id]);
    assert!(ids(&index, "bruno").await.is_empty());

    // The service re-applies from the feed; applying an event twice is harmless.
    apply(&index, vec![a.clone()], 5).await;
    apply(&index, vec![b.clone()], 7).await;
    apply(&index, vec![b.clone()], 7).await;
    index.refresh().await.unwrap();
    assert_eq!(ids(&index, "alma").await, vec![a.id]);
    assert_eq!(ids(&index, "bruno").await, vec![b.id]);
    drop(index);

    let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
    assert_eq!(index.applied_seq().await.unwrap(), 7);
    assert_eq!(ids(&index, "b").await, vec![b.id]);
}

#[tokio::test]
async fn a_sequence_without_document_changes_is_committed_too() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
        apply(&index, vec![], 42).await;
        index.refresh().await.unwrap();
    }
    let index = TantivyIndex::open(dir.path()).unwrap();
    assert_eq!(index.applied_seq().await.unwrap(), 42);
}

#[tokio::test]
async fn background_commits_are_durable_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let a = doc("gamma_g", "Gina Gamma");
    let b = doc("delta_d", "Dora Delta");
    {
        let index = TantivyIndex::open(dir.path()).unwrap();
        apply(&index, vec![a.clone()], 3).await;
        // No refresh: wait for the background commit to publish it.
        let start = std::time::Instant::now();
        while ids(&index, "gina").await.is_empty() {
            assert!(start.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        apply(&index, vec![b.clone()], 4).await;
        // Dropped at once: seq 4 may or may not have been committed.
    }
    let index = TantivyIndex::open(dir.path()).unwrap();
    let seq = index.applied_seq().await.unwrap();
    assert!(seq == 3 || seq == 4, "seq {seq}");
    assert_eq!(ids(&index, "gina").await, vec![a.id]);
    let dora = ids(&index, "dora").await;
    assert_eq!(
        dora.is_empty(),
        seq == 3,
        "the payload matches the committed docs"
    );
}

#[tokio::test]
async fn clear_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
        apply(&index, vec![doc("eps_e", "Eva Epsilon")], 9).await;
        index.refresh().await.unwrap();
        apply(&index, vec![doc("zeta_z", "Zoe Zeta")], 10).await;
        index.clear().await.unwrap();
        assert_eq!(index.applied_seq().await.unwrap(), 0);
        assert!(ids(&index, "eva").await.is_empty());
        assert!(
            ids(&index, "zoe").await.is_empty(),
            "pending docs are cleared too"
        );
    }
    let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
    assert_eq!(index.applied_seq().await.unwrap(), 0);
    assert!(ids(&index, "eva").await.is_empty());
    assert!(ids(&index, "zoe").await.is_empty());
}

#[tokio::test]
async fn a_missing_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("index");
    let index = TantivyIndex::open(&path).unwrap();
    assert_eq!(index.applied_seq().await.unwrap(), 0);
    assert!(path.join("meta.json").exists());
}

/// Checks that the index at `path` is empty, at sequence 0, and usable.
async fn reopens_empty_and_usable(path: &Path) {
    {
        let index = TantivyIndex::open_with(path, manual()).unwrap();
        assert_eq!(index.applied_seq().await.unwrap(), 0);
        assert!(ids(&index, "a").await.is_empty());
        assert!(ids(&index, "old").await.is_empty());
        apply(&index, vec![doc("new_n", "Nina New")], 1).await;
        index.refresh().await.unwrap();
        assert_eq!(ids(&index, "nina").await.len(), 1);
    }
    let index = TantivyIndex::open_with(path, manual()).unwrap();
    assert_eq!(index.applied_seq().await.unwrap(), 1);
    assert_eq!(ids(&index, "nina").await.len(), 1);
}

#[tokio::test]
async fn garbage_files_reopen_empty() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("meta.json"), b"{ not json \xff").unwrap();
    fs::write(dir.path().join(".managed.json"), b"\x00\x01garbage").unwrap();
    fs::write(
        dir.path().join("0123456789abcdef0123456789abcdef.idx"),
        b"garbage",
    )
    .unwrap();
    fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();
    reopens_empty_and_usable(dir.path()).await;
    assert_eq!(fs::read(dir.path().join("notes.txt")).unwrap(), b"not ours");
}

#[tokio::test]
async fn garbage_managed_file_alone_reopens_empty() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".managed.json"), b"[[[").unwrap();
    reopens_empty_and_usable(dir.path()).await;
}

/// Writes an index with old data, then lets `damage` loose on its files.
async fn damaged_index(damage: impl Fn(&Path, &[u8]) -> Option<Vec<u8>>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
        let docs: Vec<SearchDoc> = (0..50)
            .map(|i| doc(&format!("old_{i}"), "Old Timer"))
            .collect();
        apply(&index, docs, 77).await;
        index.refresh().await.unwrap();
    }
    for entry in fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let content = fs::read(&path).unwrap();
        if let Some(new) = damage(&path, &content) {
            fs::write(&path, new).unwrap();
        }
    }
    dir
}

fn is_segment_file(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.len() > 33 && name[..32].chars().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn garbage_segment_files_reopen_empty() {
    let dir =
        damaged_index(|p, _| is_segment_file(p).then(|| b"garbage garbage garbage".to_vec())).await;
    reopens_empty_and_usable(dir.path()).await;
}

#[tokio::test]
async fn truncated_segment_files_reopen_empty() {
    let dir = damaged_index(|p, c| is_segment_file(p).then(|| c[..c.len() / 2].to_vec())).await;
    reopens_empty_and_usable(dir.path()).await;
}

#[tokio::test]
async fn missing_segment_files_reopen_empty() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
        apply(&index, vec![doc("old_o", "Old Timer")], 5).await;
        index.refresh().await.unwrap();
    }
    for entry in fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if is_segment_file(&path) {
            fs::remove_file(path).unwrap();
        }
    }
    reopens_empty_and_usable(dir.path()).await;
}

#[tokio::test]
async fn an_index_with_another_schema_reopens_empty() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut b = tantivy::schema::Schema::builder();
        let f = b.add_text_field("title", tantivy::schema::TEXT);
        let index = tantivy::Index::create_in_dir(dir.path(), b.build()).unwrap();
        let mut w: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
        w.add_document(tantivy::doc!(f => "old stuff")).unwrap();
        w.commit().unwrap();
    }
    reopens_empty_and_usable(dir.path()).await;
}

/// The schema before the first-char typo field (`tail`) was added, with a
/// valid commit payload: it is detected as incompatible and rebuilt empty
/// (sequence 0), so the service re-indexes from the store.
#[tokio::test]
async fn an_index_of_the_previous_kinfolk_schema_reopens_empty() {
    use tantivy::schema::{
        BytesOptions, IndexRecordOption, NumericOptions, TextFieldIndexing, TextOptions,
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let raw = TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false);
        let term_field = TextOptions::default().set_indexing_options(raw.clone());
        let mut b = tantivy::schema::Schema::builder();
        b.add_bytes_field("id", BytesOptions::default().set_indexed());
        b.add_u64_field("id_hi", NumericOptions::default().set_fast());
        b.add_u64_field("id_lo", NumericOptions::default().set_fast());
        b.add_u64_field("followers", NumericOptions::default().set_fast());
        let username = b.add_text_field(
            "username",
            TextOptions::default()
                .set_indexing_options(raw)
                .set_stored(),
        );
        b.add_text_field("username_prefix", term_field.clone());
        b.add_text_field("name_prefix", term_field.clone());
        b.add_text_field("name_word", term_field);
        b.add_text_field("name", TextOptions::default().set_stored());
        let index = tantivy::Index::create_in_dir(dir.path(), b.build()).unwrap();
        let mut w: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
        w.add_document(tantivy::doc!(username => "old_o")).unwrap();
        let mut prepared = w.prepare_commit().unwrap();
        prepared.set_payload("kinfolk-search/1 seq=7");
        prepared.commit().unwrap();
    }
    reopens_empty_and_usable(dir.path()).await;
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused_not_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let first = TantivyIndex::open_with(dir.path(), manual()).unwrap();
    let d = doc("keep_k", "Kept Karl");
    apply(&first, vec![d.clone()], 8).await;
    first.refresh().await.unwrap();
    match TantivyIndex::open(dir.path()) {
        Err(Error::Storage(_)) => {}
        other => panic!("expected a storage error, got {other:?}"),
    }
    // The first one still works and kept its data.
    assert_eq!(ids(&first, "karl").await, vec![d.id]);
    apply(&first, vec![], 9).await;
    first.refresh().await.unwrap();
    drop(first);
    let again = TantivyIndex::open(dir.path()).unwrap();
    assert_eq!(again.applied_seq().await.unwrap(), 9);
    assert_eq!(ids(&again, "karl").await, vec![d.id]);
}

#[tokio::test]
async fn an_index_ahead_of_its_store_is_rebuilt_when_the_service_opens() {
    use std::sync::Arc;
    // The store has one user (feed sequence 1); the index claims sequence 50
    // and holds a user the store never had: it saw commits the store lost.
    let store: Arc<dyn kinfolk::Store> = Arc::new(kinfolk_memory::MemoryStore::new());
    let plain = kinfolk::Kinfolk::builder(store.clone())
        .build()
        .await
        .unwrap();
    let real = plain
        .register(kinfolk::NewUser::new("real_user", "Rhea Real").unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(TantivyIndex::open_with(dir.path(), manual()).unwrap());
    apply(&index, vec![doc("ghost_user", "Gus Ghost")], 50).await;
    index.refresh().await.unwrap();

    let _svc = kinfolk::Kinfolk::builder(store)
        .search(index.clone())
        .build()
        .await
        .unwrap();
    assert!(
        ids(&index, "ghost").await.is_empty(),
        "the lost state is gone"
    );
    assert_eq!(ids(&index, "real").await, vec![real.id]);
    assert_eq!(index.applied_seq().await.unwrap(), 1);
}

/// Rewrites the commit payload of the index in `dir` (closed) to `payload`,
/// as an index built by another version of this crate would have it.
fn set_payload(dir: &Path, payload: &str) {
    let index = tantivy::Index::open_in_dir(dir).unwrap();
    let mut w: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
    let mut prepared = w.prepare_commit().unwrap();
    prepared.set_payload(payload);
    prepared.commit().unwrap();
    w.wait_merging_threads().unwrap();
}

/// An index whose documents were folded with another folding version (here
/// version 1, recorded in either payload format) reopens empty, whatever
/// sequence it claims, so the service rebuilds it from the store.
#[tokio::test]
async fn an_index_of_another_folding_version_reopens_empty() {
    for old in ["kinfolk-search/1 seq=7", "kinfolk-search/2 fold=1 seq=7"] {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
            apply(&index, vec![doc("old_o", "Olga Old")], 7).await;
            index.refresh().await.unwrap();
        }
        set_payload(dir.path(), old);
        reopens_empty_and_usable(dir.path()).await;
    }
    // The current version reopens with its sequence and documents.
    let dir = tempfile::tempdir().unwrap();
    {
        let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
        apply(&index, vec![doc("old_o", "Olga Old")], 7).await;
        index.refresh().await.unwrap();
    }
    let current = format!(
        "kinfolk-search/2 fold={} seq=7",
        kinfolk::fold::FOLD_VERSION
    );
    set_payload(dir.path(), &current);
    let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
    assert_eq!(index.applied_seq().await.unwrap(), 7);
    assert_eq!(ids(&index, "olga").await.len(), 1);
}

/// The service rebuilds an index of an older folding version from the
/// store when it opens: a name only the new folding finds ("orj" for
/// "Ørjan") is found afterwards, with no feed event after the rebuild.
#[tokio::test]
async fn the_service_rebuilds_an_index_of_an_older_folding_from_the_store() {
    use std::sync::Arc;
    let store: Arc<dyn kinfolk::Store> = Arc::new(kinfolk_memory::MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    let orjan = {
        let index = Arc::new(TantivyIndex::open_with(dir.path(), manual()).unwrap());
        let svc = kinfolk::Kinfolk::builder(store.clone())
            .search(index.clone())
            .build()
            .await
            .unwrap();
        let orjan = svc
            .register(kinfolk::NewUser::new("o_s", "Ørjan Sæther").unwrap())
            .await
            .unwrap();
        svc.refresh_search().await.unwrap();
        orjan
    };
    let seq = {
        let index = TantivyIndex::open_with(dir.path(), manual()).unwrap();
        index.applied_seq().await.unwrap()
    };
    assert!(seq > 0);
    // Pretend its documents were folded by version 1, at the same position
    // as the store: only the folding version can trigger the rebuild.
    set_payload(dir.path(), &format!("kinfolk-search/1 seq={seq}"));
    let index = Arc::new(TantivyIndex::open_with(dir.path(), manual()).unwrap());
    assert_eq!(index.applied_seq().await.unwrap(), 0);
    let _svc = kinfolk::Kinfolk::builder(store)
        .search(index.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(ids(&index, "orj").await, vec![orjan.id]);
    assert_eq!(index.applied_seq().await.unwrap(), seq);
}
