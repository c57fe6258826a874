//! The seeded dataset generator.
//!
//! Same seed and size, same dataset, on every machine (ChaCha8). What it makes:
//! - users with display names "first last" from one locale of
//!   `data/names.tsv` (25 locales, skewed choice: a few dominate) and ASCII
//!   usernames derived from them (a numeric suffix keeps them unique);
//! - a follow graph: out-degrees exponential with mean 20, targets drawn by a
//!   power law (Zipf exponent 0.7 over a random popularity ranking), so the
//!   most popular accounts have ~10^4–10^5 followers at 1M users; on top, one
//!   "celebrity" (popularity rank 0) followed by 30% of all users (300k at 1M);
//! - rooms (one per 20 users) with memberships (mean ~2 per user, skewed room
//!   sizes), one "viewer" in 200 rooms;
//! - 5% private accounts, 3% non-discoverable, one block per 100 users.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use kinfolk::Username;
use kinfolk::profile::RESERVED_USERNAMES;

const NAMES_TSV: &str = include_str!("../data/names.tsv");

/// Locale weights (relative): a skewed mix, as on real platforms.
const LOCALE_WEIGHTS: &[(&str, f64)] = &[
    ("en_US", 20.0),
    ("es_MX", 8.0),
    ("pt_BR", 7.0),
    ("en_GB", 5.0),
    ("de_DE", 5.0),
    ("fr_FR", 5.0),
    ("ru_RU", 5.0),
    ("ja_JP", 4.0),
    ("hi_IN", 4.0),
    ("ar_SA", 4.0),
    ("zh_CN", 4.0),
    ("tr_TR", 3.0),
    ("it_IT", 3.0),
    ("ko_KR", 3.0),
    ("es_ES", 2.0),
    ("id_ID", 2.0),
    ("vi_VN", 2.0),
    ("uk_UA", 2.0),
    ("el_GR", 1.5),
    ("nl_NL", 1.5),
    ("sv_SE", 1.0),
    ("he_IL", 1.0),
    ("th_TH", 1.0),
    ("fa_IR", 1.0),
    ("cs_CZ", 1.0),
];

/// Room name stems, several scripts.
const ROOM_STEMS: &[&str] = &[
    "Book Club",
    "Rust Study Group",
    "Lisbon Runners",
    "Club de lectura",
    "Café Philo",
    "Клуб любителей кофе",
    "Фотографы Москвы",
    "Ομάδα Πεζοπορίας",
    "ハイキング部",
    "读书会",
    "Jazz Lovers",
    "Board Games Night",
    "Gardening Tips",
    "Startup Founders",
    "Marathon Training",
    "Cooking Club",
    "Müzik Grubu",
    "Fußball Fans",
    "Photography Walks",
    "Chess Club",
    "Yoga Mornings",
    "Indie Devs",
    "Film Club",
    "Language Exchange",
    "نادي الكتاب",
    "Cycling Crew",
    "Parents Network",
    "Open Source Maintainers",
    "Travel Buddies",
    "Science Café",
];

struct Pool {
    names: Vec<String>,
    cum: Vec<f64>,
}

impl Pool {
    fn pick<'a>(&'a self, rng: &mut ChaCha8Rng) -> &'a str {
        let total = *self.cum.last().unwrap_or(&1.0);
        let x = rng.random::<f64>() * total;
        let i = self
            .cum
            .partition_point(|&c| c <= x)
            .min(self.names.len() - 1);
        &self.names[i]
    }
}

struct Locale {
    code: &'static str,
    first: Pool,
    last: Pool,
}

fn locales() -> (Vec<Locale>, Vec<f64>) {
    let mut out = Vec::new();
    let mut cum = Vec::new();
    let mut acc = 0.0;
    for &(code, w) in LOCALE_WEIGHTS {
        let mut first = Pool {
            names: vec![],
            cum: vec![],
        };
        let mut last = Pool {
            names: vec![],
            cum: vec![],
        };
        for line in NAMES_TSV.lines().skip(1) {
            let mut cols = line.split('\t');
            let (Some(loc), Some(kind), Some(weight), Some(name)) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            if loc != code {
                continue;
            }
            let weight: f64 = weight.parse().unwrap_or(1.0);
            let pool = if kind == "first" {
                &mut first
            } else {
                &mut last
            };
            let prev = pool.cum.last().copied().unwrap_or(0.0);
            pool.names.push(name.to_string());
            pool.cum.push(prev + weight.max(0.01));
        }
        assert!(
            !first.names.is_empty() && !last.names.is_empty(),
            "names.tsv lacks {code}"
        );
        acc += w;
        cum.push(acc);
        out.push(Locale { code, first, last });
    }
    (out, cum)
}

/// A continuous power-law (Zipf-like) sampler over ranks `0..n`:
/// P(rank r) ∝ (r+1)^-s, by inverting the continuous CDF.
#[derive(Clone, Copy, Debug)]
pub struct Zipf {
    n: f64,
    s: f64,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Self {
        assert!(n > 0 && s > 0.0 && (s - 1.0).abs() > 1e-9);
        Zipf { n: n as f64, s }
    }
    pub fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        let u: f64 = rng.random();
        let a = 1.0 - self.s;
        // x in [1, n+1): CDF(x) = (x^a - 1) / ((n+1)^a - 1)
        let x = (u * ((self.n + 1.0).powf(a) - 1.0) + 1.0).powf(1.0 / a);
        ((x - 1.0) as usize).min(self.n as usize - 1)
    }
}

/// A generated user.
#[derive(Clone, Debug)]
pub struct GenUser {
    pub username: String,
    pub name: String,
    pub locale: &'static str,
}

/// A generated room.
#[derive(Clone, Debug)]
pub struct GenRoom {
    pub name: String,
    pub page: bool,
    pub public: bool,
    /// Member indexes; the first is the owner.
    pub members: Vec<u32>,
}

/// A whole dataset. Users are referred to by index.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub seed: u64,
    pub users: Vec<GenUser>,
    /// `(follower, followee)`, in import order.
    pub follows: Vec<(u32, u32)>,
    /// `perm[rank]` is the user at popularity rank `rank` (0 = most followed).
    pub perm: Vec<u32>,
    pub celebrity: u32,
    /// A typical logged-in user (follows 150, member of 200 rooms).
    pub viewer: u32,
    pub private: Vec<u32>,
    pub hidden: Vec<u32>,
    pub blocks: Vec<(u32, u32)>,
    pub rooms: Vec<GenRoom>,
}

/// Mean out-degree.
pub const MEAN_FOLLOWS: f64 = 20.0;
/// Share of all users following the celebrity.
pub const CELEBRITY_SHARE: f64 = 0.30;
/// How many users the viewer follows.
pub const VIEWER_FOLLOWS: usize = 150;
/// How many rooms the viewer is in.
pub const VIEWER_ROOMS: usize = 200;

fn ascii_word(s: &str) -> String {
    kinfolk::text::fold(s)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(12)
        .collect()
}

fn base36(mut n: u64) -> String {
    const D: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut v = Vec::new();
    loop {
        v.push(D[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    v.reverse();
    String::from_utf8(v).unwrap_or_default()
}

/// A username for user `i` with display name `first last`.
fn username_for(i: usize, first: &str, last: &str, locale: &str) -> String {
    let f = ascii_word(first);
    let l = ascii_word(last);
    let base = match (f.is_empty(), l.is_empty()) {
        (false, false) => format!("{f}_{l}"),
        (false, true) => f,
        (true, false) => l,
        (true, true) => format!("{}_user", &locale[..2]),
    };
    let base = if base.chars().any(|c| c.is_ascii_alphabetic()) {
        base
    } else {
        format!("u{base}")
    };
    let mut name = format!("{base}{}", base36(i as u64));
    // Never a reserved name (compared after folding look-alikes).
    if let Ok(u) = Username::parse(&name) {
        let lf = u.lookalike_fold();
        if RESERVED_USERNAMES.iter().any(|r| *r == lf) {
            name.push('x');
        }
    }
    name
}

impl Dataset {
    /// Generates the dataset of `n` users from `seed`.
    pub fn generate(n: usize, seed: u64) -> Dataset {
        assert!(n >= 200, "at least 200 users");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (locs, loc_cum) = locales();
        let total = *loc_cum.last().unwrap_or(&1.0);

        let mut users = Vec::with_capacity(n);
        // Usernames are unique on their look-alike skeleton (kinfolk's
        // default rule): a generated name whose skeleton an earlier one has
        // (`ana_lima1` and `ana_limai`) gets a `9<k>` tail instead.
        let mut skeletons = std::collections::HashSet::with_capacity(n);
        for i in 0..n {
            let x = rng.random::<f64>() * total;
            let li = loc_cum.partition_point(|&c| c <= x).min(locs.len() - 1);
            let loc = &locs[li];
            let first = loc.first.pick(&mut rng);
            let last = loc.last.pick(&mut rng);
            let mut name = format!("{first} {last}");
            if name.chars().count() > 50 {
                name = name.chars().take(50).collect::<String>().trim().to_string();
            }
            let mut username = username_for(i, first, last, loc.code);
            let mut k = 0u32;
            while !skeletons.insert(kinfolk::user::skeleton(&username)) {
                k += 1;
                let tail = format!("9{k}");
                let mut head = username_for(i, first, last, loc.code);
                head.truncate(30 - tail.len());
                username = head + &tail;
            }
            users.push(GenUser {
                username,
                name,
                locale: loc.code,
            });
        }

        // Popularity ranking: a random permutation.
        let mut perm: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            perm.swap(i, j);
        }
        let celebrity = perm[0];
        let viewer = perm[n / 10];

        let zipf = Zipf::new(n, 0.7);
        let mut follows: Vec<(u32, u32)> = Vec::with_capacity(n * 21 + n / 3);
        let mut mine: Vec<u32> = Vec::new();
        for u in 0..n as u32 {
            let deg = if u == viewer {
                VIEWER_FOLLOWS
            } else {
                let e: f64 = -(1.0 - rng.random::<f64>()).ln() * MEAN_FOLLOWS;
                (e as usize).min(2_000).min(n - 1)
            };
            mine.clear();
            let mut tries = 0;
            while mine.len() < deg && tries < deg * 4 + 8 {
                tries += 1;
                let t = perm[zipf.sample(&mut rng)];
                if t != u && !mine.contains(&t) {
                    mine.push(t);
                }
            }
            if u != celebrity
                && u != viewer
                && !mine.contains(&celebrity)
                && rng.random::<f64>() < CELEBRITY_SHARE
            {
                // Insert at a random position so the celebrity's followers
                // spread over the whole import.
                let at = rng.random_range(0..=mine.len());
                mine.insert(at, celebrity);
            }
            follows.extend(mine.iter().map(|&t| (u, t)));
        }

        let special = |u: u32| u == celebrity || u == viewer;
        let mut private = Vec::new();
        let mut hidden = Vec::new();
        for u in 0..n as u32 {
            if special(u) {
                continue;
            }
            if rng.random::<f64>() < 0.05 {
                private.push(u);
            }
            if rng.random::<f64>() < 0.03 {
                hidden.push(u);
            }
        }
        let mut blocks = Vec::new();
        for _ in 0..n / 100 {
            let a = rng.random_range(0..n as u32);
            let b = rng.random_range(0..n as u32);
            if a != b && !special(a) && !special(b) {
                blocks.push((a, b));
            }
        }

        let n_rooms = (n / 20).max(20);
        let room_zipf = Zipf::new(n_rooms, 0.8);
        let mut rooms: Vec<GenRoom> = (0..n_rooms)
            .map(|r| {
                let stem = ROOM_STEMS[rng.random_range(0..ROOM_STEMS.len())];
                GenRoom {
                    name: format!("{stem} #{r}"),
                    page: rng.random::<f64>() < 0.2,
                    public: rng.random::<f64>() < 0.7,
                    members: vec![rng.random_range(0..n as u32)],
                }
            })
            .collect();
        for u in 0..n as u32 {
            let k = if u == viewer {
                0
            } else {
                ((-(1.0 - rng.random::<f64>()).ln() * 2.0) as usize).min(50)
            };
            for _ in 0..k {
                let r = room_zipf.sample(&mut rng);
                if !rooms[r].members.contains(&u) {
                    rooms[r].members.push(u);
                }
            }
        }
        // The viewer: in VIEWER_ROOMS distinct rooms (or all of them).
        let mut picked = 0;
        let mut r = 0;
        let stride = (n_rooms / VIEWER_ROOMS).max(1);
        while picked < VIEWER_ROOMS.min(n_rooms) && r < n_rooms {
            if !rooms[r].members.contains(&viewer) {
                rooms[r].members.push(viewer);
                picked += 1;
            }
            r += stride;
        }

        Dataset {
            seed,
            users,
            follows,
            perm,
            celebrity,
            viewer,
            private,
            hidden,
            blocks,
            rooms,
        }
    }

    /// Number of memberships.
    pub fn memberships(&self) -> usize {
        self.rooms.iter().map(|r| r.members.len()).sum()
    }

    /// Followers per user, as generated (before blocks, which never remove follows).
    pub fn in_degrees(&self) -> Vec<u32> {
        let mut d = vec![0u32; self.users.len()];
        for &(_, t) in &self.follows {
            d[t as usize] += 1;
        }
        d
    }
}

/// A seeded RNG for workloads (distinct from the dataset's stream).
pub fn workload_rng(tag: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(crate::bench_seed() ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_dataset_and_valid_users() {
        let a = Dataset::generate(2_000, 7);
        let b = Dataset::generate(2_000, 7);
        assert_eq!(a.follows, b.follows);
        assert_eq!(
            a.users.iter().map(|u| &u.username).collect::<Vec<_>>(),
            b.users.iter().map(|u| &u.username).collect::<Vec<_>>()
        );
        let c = Dataset::generate(2_000, 8);
        assert_ne!(a.follows, c.follows);
        for u in &a.users {
            assert!(kinfolk::NewUser::new(&u.username, &u.name).is_ok(), "{u:?}");
        }
        let mut folded: Vec<String> = a.users.iter().map(|u| u.username.to_lowercase()).collect();
        folded.sort();
        folded.dedup();
        assert_eq!(folded.len(), a.users.len());
        let deg = a.in_degrees();
        let celeb = deg[a.celebrity as usize] as f64;
        assert!(celeb > 0.25 * 2_000.0, "celebrity has {celeb} followers");
        let mean = a.follows.len() as f64 / 2_000.0;
        assert!((15.0..30.0).contains(&mean), "mean out-degree {mean}");
        let scripts = a.users.iter().filter(|u| !u.name.is_ascii()).count();
        assert!(scripts > 400, "only {scripts} non-ASCII names");
    }

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let z = Zipf::new(1000, 0.7);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut hits = vec![0u32; 1000];
        for _ in 0..100_000 {
            hits[z.sample(&mut rng)] += 1;
        }
        assert!(hits[0] > 10 * hits[999].max(1));
    }
}
