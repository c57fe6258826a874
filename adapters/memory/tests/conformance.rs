//! Everything a store must pass, on the in-memory store with the
//! brute-force search index: the conformance cases and the race suite,
//! stamped by `kinfolk_conformance::store_tests!`. "Reopening" hands back
//! the same instances (data survives, as for a persistent store, but nothing
//! touches disk). This store is the reference model of the model and kill
//! tests of the other stores, so it has neither itself.

kinfolk_conformance::store_tests! {
    store: kinfolk_conformance::kit::Shared::reference(),
}
