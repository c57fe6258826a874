//! Editing settings (SPEC §4): the version check and private → public.

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::EdgeKind;
use crate::graph::edges;
use crate::id::UserId;
use crate::service::{Kinfolk, active_actor};
use crate::settings::{Settings, SettingsPatch};

impl Kinfolk {
    /// Partially updates settings: absent fields stay, an empty patch returns
    /// the current settings unchanged. A patch that changes something bumps
    /// `version`; a patch naming an `expected_version` other than the current
    /// one is refused, so two clients never silently undo each other. Turning
    /// `private_account` off approves every pending follow request.
    ///
    /// # Errors
    /// `Conflict` for a stale `expected_version`; `Unauthenticated`, `Deactivated`.
    /// (Unknown fields are refused when the patch is deserialised.)
    pub async fn edit_settings(&self, actor: UserId, patch: SettingsPatch) -> Result<Settings> {
        let span = tracing::info_span!("edit_settings", actor = %actor);
        let now = self.now()?;
        self.wr(move |tx| {
            let mut user = active_actor(tx, actor)?;
            if let Some(expected) = patch.expected_version
                && expected != user.settings.version
            {
                return Err(Error::Conflict {
                    reason: "settings changed since the given version",
                });
            }
            let was_private = user.settings.privacy.private_account;
            let mut settings = user.settings.clone();
            if !settings.apply(&patch) {
                return Ok(user.settings);
            }
            settings.version += 1;
            user.settings = settings;
            user.updated_at = now;
            tx.put_user(&user)?;
            tx.append_change(now, Change::SettingsChanged { user: actor })?;
            if was_private && !user.settings.privacy.private_account {
                let pending =
                    edges::all_edges(tx, EdgeKind::Request, crate::graph::Anchor::To(actor))?;
                // Oldest first, so approved follows keep the order they were asked in.
                for e in pending.iter().rev() {
                    edges::approve_request(tx, e.from, actor, now)?;
                }
            }
            Ok(edges::load(tx, actor)?.settings)
        })
        .instrument(span)
        .metered("edit_settings")
        .await
    }
}
