//! What decoding one stored user record costs, and what the two decode
//! shortcuts of BENCHMARKS.md "Read path (issue 18, session 6)" save, in one
//! process on one thread (no store, no disk, no thread hop).
//!
//! `cargo run --release -p kinfolk-redb --example decode_cost [ROUNDS]`
//!
//! Prints, as the minimum over `ROUNDS` (default 7) rounds of 200,000 calls
//! each, in ns per call:
//! - a typical `User` decoded from its stored forms: postcard (the redb
//!   store's format 1) and JSON (the SQLite store's `record` column), with
//!   every validation core runs on them;
//! - one timestamp read by chrono's own parser (what serde used before) and
//!   by `kinfolk::clock::parse_rfc3339` (the fast path for kinfolk's form);
//! - `LanguageTag::parse` of the tag the thread parsed last (the memo's hit)
//!   and of two tags in turn (a miss every call: the full parse and
//!   validation).

use std::hint::black_box;
use std::time::Instant;

use kinfolk::settings::LanguageTag;
use kinfolk::{Clock, NewUser, SafeUrl, SystemClock, Timestamp, User, UserId};

const CALLS: u32 = 200_000;

/// The fastest of `rounds` rounds of `CALLS` calls of `f`, in ns per call.
fn min_ns(rounds: u32, mut f: impl FnMut(u32)) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for i in 0..CALLS {
                f(i);
            }
            t.elapsed().as_secs_f64() * 1e9 / f64::from(CALLS)
        })
        .fold(f64::INFINITY, f64::min)
}

fn user() -> Result<User, Box<dyn std::error::Error>> {
    let now = SystemClock.now();
    let new = NewUser::new("Ada_99", "Ada Lovelace")?.with_email("ada@example.com")?;
    Ok(User {
        id: UserId::new(),
        username: new.username,
        name: new.name,
        bio: kinfolk::Bio::parse("Counting engines, poetry and tea.")?,
        avatar_url: Some(SafeUrl::parse("https://cdn.example.com/a.png")?),
        social_links: Default::default(),
        location: Some(kinfolk::Location::parse("London")?),
        email: new.email,
        status: kinfolk::AccountStatus::Active,
        settings: kinfolk::Settings::default(),
        counts: Default::default(),
        created_at: now,
        updated_at: now,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(7);
    let u = user()?;
    let pc = postcard::to_allocvec(&u)?;
    let js = serde_json::to_string(&u)?;
    let ts = serde_json::to_value(u.created_at)?
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let postcard_ns = min_ns(rounds, |_| {
        black_box(postcard::from_bytes::<User>(black_box(&pc)).ok());
    });
    let json_ns = min_ns(rounds, |_| {
        black_box(serde_json::from_str::<User>(black_box(&js)).ok());
    });
    let chrono_ns = min_ns(rounds, |_| {
        black_box(black_box(ts.as_str()).parse::<Timestamp>().ok());
    });
    let fast_ns = min_ns(rounds, |_| {
        black_box(kinfolk::clock::parse_rfc3339(black_box(&ts)).ok());
    });
    let tag_hit_ns = min_ns(rounds, |_| {
        black_box(LanguageTag::parse(black_box("en")).ok());
    });
    let tags = ["en", "pt-BR"];
    let tag_miss_ns = min_ns(rounds, |i| {
        black_box(LanguageTag::parse(black_box(tags[(i % 2) as usize])).ok());
    });
    println!("| measurement | ns per call |");
    println!("|---|---|");
    println!(
        "| User from postcard ({} bytes), validated | {postcard_ns:.0} |",
        pc.len()
    );
    println!(
        "| User from JSON ({} bytes), validated | {json_ns:.0} |",
        js.len()
    );
    println!("| timestamp `{ts}`, chrono's parser | {chrono_ns:.0} |");
    println!("| the same, `kinfolk::clock::parse_rfc3339` | {fast_ns:.0} |");
    println!("| `LanguageTag::parse`, the thread's last tag again (memo hit) | {tag_hit_ns:.0} |");
    println!(
        "| `LanguageTag::parse`, two tags in turn (memo miss: full parse) | {tag_miss_ns:.0} |"
    );
    Ok(())
}
