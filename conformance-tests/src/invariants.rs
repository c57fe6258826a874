//! The store-wide invariants (SPEC §5, §7, §12), checked by scanning a
//! store through its port in one snapshot. The rule lives in core
//! ([`kinfolk::check`]); every test that checks it — the conformance cases,
//! the model test's sweeps, the kill test after each kill, the race suite —
//! goes through [`store_problems`] here, and the model test runs core's
//! per-user part ([`kinfolk::check::user_findings`]) on every step.

use kinfolk::{Kinfolk, ReadTx};

/// Page size of every walk: small, so that keyset paging is exercised.
const PAGE: usize = 7;

/// What a scan found: core's [`kinfolk::check::StoreScan`] with each
/// finding as its one-line report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Every violated invariant, described (empty when the store is sound).
    pub problems: Vec<String>,
    /// Users scanned.
    pub users: usize,
    /// Follow edges found (so a test can tell it checked something).
    pub follows: usize,
}

/// Scans the whole store in `tx` and returns every violated invariant: the
/// rule is core's [`kinfolk::check::scan_paged`], in pages of 7 (the same the `kinfolk check`
/// command runs); this only turns its findings into lines.
///
/// A record the store cannot decode makes the read fail: [`check_invariants`]
/// reports that as a violation ("every stored value decodes").
///
/// # Errors
/// When the store fails to answer a read.
pub fn store_problems(tx: &dyn ReadTx) -> kinfolk::Result<Scan> {
    let scan = kinfolk::check::scan_paged(tx, PAGE)?;
    Ok(Scan {
        problems: scan.findings.iter().map(ToString::to_string).collect(),
        users: scan.users,
        follows: scan.follows,
    })
}

/// [`store_problems`] on the service's store: `Err` with the first violated
/// invariant — also when a stored record does not decode (the read fails),
/// which is reported as a violation rather than a panic.
pub async fn check_invariants(svc: &Kinfolk) -> Result<(), String> {
    match kinfolk::store::read(svc.store().as_ref(), store_problems).await {
        Ok(scan) => scan.problems.first().map_or(Ok(()), |p| Err(p.clone())),
        Err(e) => Err(format!("stored data does not decode: {e}")),
    }
}
