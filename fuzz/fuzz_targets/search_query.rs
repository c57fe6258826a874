#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kinfolk_fuzz::search_query(data));
