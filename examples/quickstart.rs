//! kinfolk in one page: open a SQLite store with a tantivy search index,
//! register users, follow, page followers, edit settings, search.
//!
//! Run it with `cargo run --example quickstart`.

use kinfolk::{FollowAction, Kinfolk, NewUser, PageRequest, SearchScope, SettingsPatch};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;

    // One line wires a durable SQLite store and a tantivy index together.
    let svc = Kinfolk::builder(kinfolk_sqlite::open(dir.path().join("kinfolk.db"))?)
        .search(kinfolk_search::TantivyIndex::open(
            dir.path().join("search"),
        )?)
        .build()
        .await?;

    // The host registers users at sign-up and calls kinfolk with the caller's id.
    let ada = svc
        .register(NewUser::new("ada", "Ada Lovelace")?.with_email("ada@example.com")?)
        .await?;
    let jose = svc
        .register(NewUser::new("jose_a", "José Álvarez")?)
        .await?;
    let mei = svc.register(NewUser::new("mei", "李美")?).await?;
    println!(
        "registered @{}, @{}, @{}",
        ada.username, jose.username, mei.username
    );

    // Follows: a toggle, or forced with an action (idempotent).
    let out = svc.toggle_follow(jose.id, ada.id, None).await?;
    println!(
        "jose → ada: following={} changed={}",
        out.relationship.following, out.changed
    );
    svc.toggle_follow(mei.id, ada.id, Some(FollowAction::Follow))
        .await?;

    // Lists are keyset-paged, newest first, with the viewer's relationship per row.
    let page = svc
        .followers(Some(mei.id), ada.id, PageRequest::with_limit(1))
        .await?;
    for row in &page.items {
        println!(
            "ada's newest follower: @{} (mei follows them: {:?})",
            row.user.username,
            row.relationship.map(|r| r.following)
        );
    }
    if let Some(cursor) = page.next_cursor {
        let next = svc
            .followers(Some(mei.id), ada.id, PageRequest::after(cursor, Some(1)))
            .await?;
        println!("next page: @{}", next.items[0].user.username);
    }

    // Settings are partial updates with an optimistic version check.
    let patch: SettingsPatch = serde_json::from_str(
        r#"{"expected_version": 1, "privacy": {"private_account": true}, "display": {"timezone": "Europe/Lisbon"}}"#,
    )?;
    let settings = svc.edit_settings(ada.id, patch).await?;
    println!(
        "ada's settings now at version {} (private: {})",
        settings.version, settings.privacy.private_account
    );

    // Following a private account creates a request the owner approves.
    let carol = svc.register(NewUser::new("carol", "Carol")?).await?;
    let out = svc.toggle_follow(carol.id, ada.id, None).await?;
    println!("carol → ada: requested={}", out.relationship.requested);
    svc.approve_follow_request(ada.id, carol.id).await?;
    println!(
        "ada has {} followers",
        svc.me(ada.id).await?.stats.followers_count
    );

    // Search: accent- and case-insensitive prefixes, ranked deterministically.
    svc.refresh_search().await?;
    let hits = svc
        .search_users(
            Some(mei.id),
            "alv",
            SearchScope::Discovery,
            PageRequest::first(),
        )
        .await?;
    for hit in &hits.items {
        println!(
            "search 'alv': @{} ({}) as {:?}",
            hit.user.username, hit.user.name, hit.tier
        );
    }

    // Every committed change is in the feed, in order.
    for event in svc.changes_since(0, 100).await? {
        println!(
            "#{:>2} {}",
            event.seq,
            serde_json::to_string(&event.change)?
        );
    }
    Ok(())
}
