//! Bulk-load fast paths of the port (`docs/adr/0011-transfer-format.md`),
//! a child module of `tx.rs`: the feed counter raised without events, and
//! edges loaded into `edges` alone, their two order indexes built once at
//! [`BulkLoad::Finish`] from one scan, each in key order (appends, not
//! inserts at random places).
//!
//! `Start` records the load in `meta` (`bulk_load`); `Finish` rebuilds the
//! indexes only when that mark is there, and removes it — so a crash between
//! the two is repaired by calling `Finish` again.

use kinfolk::store::BulkLoad;
use kinfolk::{Edge, Error, Result};
use redb::{Key, ReadableTable, Table, TableDefinition, Value, WriteTransaction};
use std::cell::OnceCell;

use super::{Tables, Writing};
use crate::codec::{decode, encode};
use crate::error::EngineResult;
use crate::tables::{EDGES, EDGES_BY_FROM, EDGES_BY_TO, LAST_SEQ_KEY, edge_index_key, edge_key};

/// The `meta` key marking a bulk load in progress.
const BULK_LOAD_KEY: &str = "bulk_load";

/// Length of an order-index key: kind, anchor, seq, other.
const INDEX_KEY: usize = 1 + 16 + 8 + 16;

/// The table in `cell` taken out of it (or opened in `txn` when the job has
/// not opened it): the rebuild reads one table while it writes two others,
/// which the lazily opened cells cannot lend at once. A taken table is
/// closed when dropped; a later use in the job opens it again.
fn take<'t, K: Key + 'static, V: Value + 'static>(
    cell: &mut OnceCell<Table<'t, K, V>>,
    txn: &'t WriteTransaction,
    table: TableDefinition<'static, K, V>,
) -> Result<Table<'t, K, V>> {
    match cell.take() {
        Some(t) => Ok(t),
        None => txn.open_table(table).engine(),
    }
}

impl<'t> Tables<'t, Writing<'t>> {
    /// [`kinfolk::WriteTx::raise_seq`]: moves the counter, no events.
    pub(super) fn bulk_raise_seq(&mut self, upto: u64) -> Result<()> {
        let last = self
            .meta()?
            .get(LAST_SEQ_KEY)
            .engine()?
            .map_or(0, |g| g.value());
        if upto > last {
            self.meta_mut()?.insert(LAST_SEQ_KEY, upto).engine()?;
        }
        Ok(())
    }

    /// [`kinfolk::WriteTx::reserve_seqs`]: moves the counter by `n`, no
    /// events.
    pub(super) fn bulk_reserve_seqs(&mut self, n: usize) -> Result<Vec<u64>> {
        let last = self
            .meta()?
            .get(LAST_SEQ_KEY)
            .engine()?
            .map_or(0, |g| g.value());
        let upto = u64::try_from(n)
            .ok()
            .and_then(|n| last.checked_add(n))
            .ok_or_else(|| Error::storage("change-feed sequence numbers are exhausted"))?;
        if upto > last {
            self.meta_mut()?.insert(LAST_SEQ_KEY, upto).engine()?;
        }
        Ok((last + 1..=upto).collect())
    }

    /// [`kinfolk::WriteTx::load_edges`]: the `edges` records only; the
    /// order indexes wait for `Finish`. Outside a bulk load, a plain insert.
    pub(super) fn bulk_load_edges(&mut self, edges: &[Edge]) -> Result<()> {
        if self.meta()?.get(BULK_LOAD_KEY).engine()?.is_none() {
            return kinfolk::WriteTx::insert_edges(self, edges);
        }
        for e in edges {
            let bytes = encode("edge", e)?;
            let key = edge_key(e.kind, e.from, e.to);
            if self
                .edges_mut()?
                .insert(key.as_slice(), bytes.as_slice())
                .engine()?
                .is_some()
            {
                return Err(Error::Conflict {
                    reason: "edge exists",
                });
            }
        }
        Ok(())
    }

    /// [`kinfolk::WriteTx::bulk_load`].
    pub(super) fn bulk_step(&mut self, step: BulkLoad) -> Result<()> {
        match step {
            BulkLoad::Start => {
                self.meta_mut()?.insert(BULK_LOAD_KEY, 1).engine()?;
                Ok(())
            }
            BulkLoad::Finish => {
                if self.meta_mut()?.remove(BULK_LOAD_KEY).engine()?.is_none() {
                    return Ok(());
                }
                self.rebuild_edge_indexes()
            }
        }
    }

    /// Both order indexes from one scan of `edges`: `edges_by_from` is
    /// written during the scan (the scan is in `(kind, from)` order; each
    /// user's run is sorted by seq first), `edges_by_to` after one sort.
    fn rebuild_edge_indexes(&mut self) -> Result<()> {
        let mut by_to: Vec<[u8; INDEX_KEY]> = Vec::new();
        let mut run: Vec<[u8; INDEX_KEY]> = Vec::new();
        let fixed = |v: Vec<u8>| -> Result<[u8; INDEX_KEY]> {
            v.try_into()
                .map_err(|_| Error::storage("edge index key of an unexpected length"))
        };
        let txn = self.txn;
        let edges = take(&mut self.edges, txn, EDGES)?;
        let mut edges_by_from = take(&mut self.edges_by_from, txn, EDGES_BY_FROM)?;
        let mut edges_by_to = take(&mut self.edges_by_to, txn, EDGES_BY_TO)?;
        {
            let iter = edges.iter().engine()?;
            for item in iter {
                let (_, value) = item.engine()?;
                let e: Edge = decode("edge", value.value())?;
                let k = fixed(edge_index_key(e.kind, e.from, e.seq, e.to))?;
                if run.first().is_some_and(|f| f[..17] != k[..17]) {
                    run.sort_unstable();
                    for k in run.drain(..) {
                        edges_by_from.insert(k.as_slice(), ()).engine()?;
                    }
                }
                run.push(k);
                by_to.push(fixed(edge_index_key(e.kind, e.to, e.seq, e.from))?);
            }
        }
        run.sort_unstable();
        for k in run.drain(..) {
            edges_by_from.insert(k.as_slice(), ()).engine()?;
        }
        by_to.sort_unstable();
        for k in &by_to {
            edges_by_to.insert(k.as_slice(), ()).engine()?;
        }
        Ok(())
    }
}
