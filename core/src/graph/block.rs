//! Blocks (SPEC §5): a block severs follows both ways and hides each user
//! from the other.

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::edges;
use crate::graph::{Edge, EdgeKind};
use crate::id::UserId;
use crate::service::{Kinfolk, active_actor};

impl Kinfolk {
    /// Blocks `target`: removes follows and follow requests in both
    /// directions (counters adjusted). Afterwards the target cannot follow the
    /// actor, sees the actor as missing, and the two never see each other in
    /// lists or search. Idempotent; reports whether anything changed.
    ///
    /// # Errors
    /// `Validation` (`target`) for blocking oneself; `NotFound` for an unknown
    /// user; `Unauthenticated`, `Deactivated`.
    pub async fn block(&self, actor: UserId, target: UserId) -> Result<bool> {
        let span = tracing::info_span!("block", actor = %actor, target = %target);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if actor == target {
                return Err(Error::validation("target", "you cannot block yourself"));
            }
            tx.user(target)?.ok_or_else(Error::user_not_found)?;
            if tx.edge(EdgeKind::Block, actor, target)?.is_some() {
                return Ok(false);
            }
            edges::sever(tx, actor, target, now)?;
            let seq = tx.append_change(
                now,
                Change::Blocked {
                    blocker: actor,
                    blocked: target,
                },
            )?;
            tx.insert_edge(&Edge {
                kind: EdgeKind::Block,
                from: actor,
                to: target,
                since: now,
                seq,
                until: None,
            })?;
            Ok(true)
        })
        .instrument(span)
        .metered("block")
        .await
    }

    /// Lifts a block (follows removed by it are not restored). Idempotent.
    ///
    /// # Errors
    /// `Unauthenticated`, `Deactivated`.
    pub async fn unblock(&self, actor: UserId, target: UserId) -> Result<bool> {
        let span = tracing::info_span!("unblock", actor = %actor, target = %target);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if tx.delete_edge(EdgeKind::Block, actor, target)?.is_none() {
                return Ok(false);
            }
            tx.append_change(
                now,
                Change::Unblocked {
                    blocker: actor,
                    blocked: target,
                },
            )?;
            Ok(true)
        })
        .instrument(span)
        .metered("unblock")
        .await
    }
}
