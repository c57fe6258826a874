//! Runs every fuzz target's body over random inputs without libFuzzer, so
//! the bodies stay exercised on a stable toolchain: `cargo test` in `fuzz/`
//! (`FUZZ_DRIVER_INPUTS` sets the inputs per target, default 2,000).
//! Inputs mix raw random bytes with mutations of a few seeds.

const SEEDS: &[&[u8]] = &[
    b"ada_99",
    b"  Jos\xc3\xa9 \xc3\x81lvarez \n",
    b"https://cdn.example.com/a.png",
    b"https://[::ffff:127.0.0.1]/",
    b"a@example.com",
    b"pt-BR",
    b"Europe/Paris",
    b"@title:foo*",
    b"{\"privacy\":{\"private_account\":false},\"expected_version\":2}",
    b"{\"name\":\"N\",\"username\":\"alice_now\",\"location\":null}",
    b"{\"username\":\"newbie\",\"name\":\"New\"}",
    b"\x06\x14\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff",
];

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn input(rng: &mut XorShift) -> Vec<u8> {
    let mut v: Vec<u8> = if rng.below(2) == 0 {
        SEEDS[rng.below(SEEDS.len())].to_vec()
    } else {
        (0..rng.below(64)).map(|_| rng.next() as u8).collect()
    };
    for _ in 0..rng.below(4) {
        if v.is_empty() {
            v.push(rng.next() as u8);
        }
        let i = rng.below(v.len());
        match rng.below(4) {
            0 => v[i] = rng.next() as u8,
            1 => v.insert(i, b"\"{}[]:,@./\\\x00\xe2\x80\xae"[rng.below(15)]),
            2 => {
                v.remove(i);
            }
            _ => v.truncate(i),
        }
    }
    v
}

#[test]
fn every_target_over_random_inputs() {
    let n: usize = std::env::var("FUZZ_DRIVER_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    type Body = fn(&[u8]);
    let targets: &[(&str, Body)] = &[
        ("username", kinfolk_fuzz::username),
        ("text_fields", kinfolk_fuzz::text_fields),
        ("safe_url", kinfolk_fuzz::safe_url),
        ("email", kinfolk_fuzz::email),
        ("language_tag", kinfolk_fuzz::language_tag),
        ("time_zone", kinfolk_fuzz::time_zone),
        ("search_query", kinfolk_fuzz::search_query),
        ("cursor", kinfolk_fuzz::cursor),
        ("settings_patch", kinfolk_fuzz::settings_patch),
        ("profile_update", kinfolk_fuzz::profile_update),
    ];
    for (name, body) in targets {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
        for _ in 0..n {
            let data = input(&mut rng);
            let r = std::panic::catch_unwind(|| body(&data));
            assert!(r.is_ok(), "{name} failed on {data:?}");
        }
    }
}
