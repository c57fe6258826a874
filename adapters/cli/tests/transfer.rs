//! `kinfolk export` / `kinfolk import` end to end: a small generated
//! dataset made by the commands in SQLite, then SQLite → SQLite, SQLite →
//! redb and redb → SQLite, each export byte-identical to the first; and a
//! bad file refused with its line, the store left empty.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use kinfolk::{
    FollowAction, Kinfolk, NewRoom, NewUser, ProfileUpdate, RoomKind, RoomName, RoomVisibility,
    SettingsPatch, Username,
};

fn kinfolk(store: &str, db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinfolk"));
    c.arg("--store").arg(store).arg("--db").arg(db);
    c
}

fn run(c: &mut Command) -> std::process::Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// 60 users, ~300 follows drawn by a fixed LCG, private accounts with
/// pending requests, blocks, mutes, a rename, linked accounts and rooms.
async fn generate(db: &Path) {
    let svc = Kinfolk::builder(kinfolk_sqlite::open(db).unwrap())
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..60 {
        let nu = NewUser::new(&format!("gen_user{i}"), &format!("Generated {i}")).unwrap();
        ids.push(svc.register(nu).await.unwrap().id);
    }
    let private: SettingsPatch =
        serde_json::from_str(r#"{"privacy":{"private_account":true}}"#).unwrap();
    for &u in ids.iter().step_by(7) {
        svc.edit_settings(u, private.clone()).await.unwrap();
    }
    let mut x: u64 = 17;
    let mut next = |n: usize| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as usize) % n
    };
    for _ in 0..300 {
        let (a, b) = (ids[next(60)], ids[next(60)]);
        if a != b {
            svc.toggle_follow(a, b, Some(FollowAction::Follow))
                .await
                .unwrap();
        }
    }
    for i in 0..5 {
        svc.block(ids[i], ids[59 - i]).await.unwrap();
        svc.mute(ids[10 + i], ids[20 + i], None).await.unwrap();
    }
    svc.update_profile(
        ids[3],
        ProfileUpdate {
            username: Some(Username::parse("renamed_three").unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    svc.link_account(ids[4], "github", "4444", "four")
        .await
        .unwrap();
    for r in 0..3 {
        let room = svc
            .create_room(
                ids[r],
                NewRoom {
                    kind: RoomKind::Group,
                    name: RoomName::parse(&format!("Room {r}")).unwrap(),
                    visibility: RoomVisibility::Public,
                },
            )
            .await
            .unwrap();
        for m in 30..40 {
            svc.add_member(ids[r], room.id, ids[m + r]).await.unwrap();
        }
    }
    svc.deactivate(ids[58]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn round_trips_between_sqlite_and_redb_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    generate(&p("source.db")).await;

    run(kinfolk("sqlite", &p("source.db")).args(["export", p("first.jsonl").to_str().unwrap()]));
    let first = std::fs::read(p("first.jsonl")).unwrap();
    assert!(first.len() > 10_000, "{}", first.len());

    // SQLite → SQLite.
    run(kinfolk("sqlite", &p("copy.db"))
        .arg("import")
        .arg(p("first.jsonl")));
    let out = run(kinfolk("sqlite", &p("copy.db")).arg("export"));
    assert!(out.stdout == first, "SQLite → SQLite differs");

    // SQLite → redb.
    run(kinfolk("redb", &p("copy.redb"))
        .arg("import")
        .arg(p("first.jsonl")));
    run(kinfolk("redb", &p("copy.redb")).args(["export", p("redb.jsonl").to_str().unwrap()]));
    assert!(
        std::fs::read(p("redb.jsonl")).unwrap() == first,
        "SQLite → redb differs"
    );

    // redb → SQLite.
    run(kinfolk("sqlite", &p("back.db"))
        .arg("import")
        .arg(p("redb.jsonl")));
    let out = run(kinfolk("sqlite", &p("back.db")).args(["export", "-"]));
    assert!(out.stdout == first, "redb → SQLite differs");
}

#[test]
fn a_bad_line_is_named_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    let header = r#"{"type":"header","format":"kinfolk-transfer","version":1}"#;
    let user = |id: &str, name: &str| {
        format!(
            r#"{{"type":"user","id":"{id}","username":"{name}","name":"N","bio":"","avatar_url":null,"social_links":[],"location":null,"email":null,"status":"active","settings":{settings},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}"#,
            settings = serde_json::to_string(&kinfolk::Settings::default()).unwrap()
        )
    };
    let body = [
        header.to_string(),
        user("01900000-0000-7000-8000-000000000001", "ann"),
        user("01900000-0000-7000-8000-000000000002", "ANN"),
    ]
    .join("\n");
    std::fs::write(&file, body + "\n").unwrap();
    let db = dir.path().join("t.db");
    let out = kinfolk("sqlite", &db)
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3:") && err.contains("taken"), "{err}");
    let out = run(kinfolk("sqlite", &db).arg("export"));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{header}\n")
    );
}
