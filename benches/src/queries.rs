//! Typeahead queries: what people type while looking for someone.
//!
//! Targets are drawn with Zipf skew (popular accounts are searched more).
//! Classes: the first 1, 2, 3 and 5 characters of the display name, the full
//! name, and the full name with one typo (a character deleted from its
//! longest word of 5+ characters).

use crate::dataset::Dataset;
use crate::work::Fixture;

/// A query class.
pub const CLASSES: &[&str] = &["p1", "p2", "p3", "p5", "full", "typo"];

/// `count` queries of `class`.
pub fn queries(ds: &Dataset, f: &Fixture, class: &str, count: usize) -> Vec<String> {
    let mut rng =
        crate::dataset::workload_rng(0x5eac + class.len() as u64 * 31 + class.as_bytes()[0] as u64);
    let mut out = Vec::with_capacity(count);
    let mut guard = 0;
    while out.len() < count && guard < count * 50 {
        guard += 1;
        let name = &ds.users[f.pick(&mut rng)].name;
        let q = match class {
            "p1" | "p2" | "p3" | "p5" => {
                let k: usize = class[1..].parse().unwrap_or(1);
                let q: String = name.chars().take(k).collect();
                let q = q.trim().to_string();
                if q.chars().count() < k.min(name.chars().count()) {
                    continue;
                }
                q
            }
            "full" => name.clone(),
            "typo" => {
                let words: Vec<&str> = name.split_whitespace().collect();
                let Some(longest) = words
                    .iter()
                    .copied()
                    .filter(|w| w.chars().count() >= 5)
                    .max_by_key(|w| w.chars().count())
                else {
                    continue;
                };
                let typo: String = longest
                    .chars()
                    .enumerate()
                    .filter(|(i, _)| *i != 2)
                    .map(|(_, c)| c)
                    .collect();
                words
                    .iter()
                    .map(|w| if *w == longest { typo.as_str() } else { w })
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            _ => continue,
        };
        if kinfolk::SearchQuery::parse(&q).is_ok() {
            out.push(q);
        }
    }
    out
}
