//! The change feed (SPEC §10) as hosts read it.

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::feed::ChangeEvent;
use crate::service::Kinfolk;

/// Most events [`Kinfolk::changes_since`] returns at once.
pub const MAX_CHANGES: usize = 1000;

impl Kinfolk {
    /// Up to `limit` (1–1000) committed changes with a sequence number above
    /// `after`, in order. Hosts drive feeds and notifications from it.
    ///
    /// Every event returned is durable: with a store that lets reads see a
    /// commit before its sync, this waits for the sync
    /// ([`Store::await_durable`](crate::Store::await_durable)), so a crash
    /// cannot take back an event a host has seen and give its sequence
    /// number to another.
    ///
    /// # Errors
    /// `Validation` (`limit`); `Storage`.
    pub async fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<ChangeEvent>> {
        if limit == 0 || limit > MAX_CHANGES {
            return Err(Error::validation("limit", "must be 1–1000"));
        }
        let span = tracing::info_span!("changes_since", after);
        self.rd_durable(move |tx| tx.changes_since(after, limit))
            .instrument(span)
            .metered("changes_since")
            .await
    }

    /// The sequence number of the last committed change (0 when none).
    ///
    /// # Errors
    /// `Storage`.
    pub async fn last_change_seq(&self) -> Result<u64> {
        // Durable, as the events of `changes_since` are.
        self.rd_durable(|tx| tx.last_seq()).await
    }

    /// Deletes feed events up to `upto`, which the host has consumed — never
    /// past what the search index has applied and made durable (the index
    /// is caught up and refreshed first; the trim stops at its position).
    /// Returns the sequence actually trimmed up to.
    ///
    /// # Errors
    /// `Storage`.
    pub async fn trim_changes(&self, upto: u64) -> Result<u64> {
        let span = tracing::info_span!("trim_changes", upto);
        async move {
            let limit = match &self.inner.search {
                Some(index) => {
                    // Caught up and committed: the index must hold what it
                    // claims durably before the feed forgets it (pending
                    // changes die with the process).
                    self.sync_search().await?;
                    index.refresh().await?;
                    upto.min(index.applied_seq().await?)
                }
                None => upto,
            };
            crate::store::write(self.inner.store.as_ref(), move |tx| {
                tx.trim_changes(limit)?;
                Ok(limit)
            })
            .await
        }
        .instrument(span)
        .metered("trim_changes")
        .await
    }
}
