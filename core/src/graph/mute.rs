//! Mutes (SPEC §5): hide a user from the actor's discovery search, for good
//! or until a time.

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::{Edge, EdgeKind};
use crate::id::UserId;
use crate::service::{Kinfolk, active_actor};

impl Kinfolk {
    /// Mutes `target`, optionally until a time (a timed mute ends by
    /// itself). Muting again replaces the end time. Shown in the
    /// relationship; muted users are left out of the actor's discovery search.
    ///
    /// # Errors
    /// `Validation` for muting oneself, an `until` not in the future or
    /// outside the supported time range (after `9999-12-31T23:59:59.999999999Z`,
    /// see [`crate::clock`]);
    /// `NotFound` for an unknown user; `Unauthenticated`, `Deactivated`.
    pub async fn mute(
        &self,
        actor: UserId,
        target: UserId,
        until: Option<Timestamp>,
    ) -> Result<bool> {
        let span = tracing::info_span!("mute", actor = %actor, target = %target);
        let now = self.now()?;
        if let Some(u) = until {
            crate::clock::check_time("until", u)?;
        }
        if until.is_some_and(|u| u <= now) {
            return Err(Error::validation("until", "must be in the future"));
        }
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if actor == target {
                return Err(Error::validation("target", "you cannot mute yourself"));
            }
            tx.user(target)?.ok_or_else(Error::user_not_found)?;
            if let Some(old) = tx.edge(EdgeKind::Mute, actor, target)? {
                if old.until == until && old.mute_active(now) {
                    return Ok(false);
                }
                tx.delete_edge(EdgeKind::Mute, actor, target)?;
            }
            let seq = tx.append_change(
                now,
                Change::Muted {
                    muter: actor,
                    muted: target,
                    until,
                },
            )?;
            tx.insert_edge(&Edge {
                kind: EdgeKind::Mute,
                from: actor,
                to: target,
                since: now,
                seq,
                until,
            })?;
            Ok(true)
        })
        .instrument(span)
        .metered("mute")
        .await
    }

    /// Ends a mute. Idempotent; an expired timed mute counts as already ended.
    ///
    /// # Errors
    /// `Unauthenticated`, `Deactivated`.
    pub async fn unmute(&self, actor: UserId, target: UserId) -> Result<bool> {
        let span = tracing::info_span!("unmute", actor = %actor, target = %target);
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            let Some(old) = tx.delete_edge(EdgeKind::Mute, actor, target)? else {
                return Ok(false);
            };
            if !old.mute_active(now) {
                return Ok(false);
            }
            tx.append_change(
                now,
                Change::Unmuted {
                    muter: actor,
                    muted: target,
                },
            )?;
            Ok(true)
        })
        .instrument(span)
        .metered("unmute")
        .await
    }
}
