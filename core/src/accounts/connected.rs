//! Connected accounts (SPEC §9): linking external accounts and finding a
//! user by one.

use crate::meter::MeterExt;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::edges;
use crate::id::UserId;
use crate::profile::{ConnectedAccount, UserSummary};
use crate::service::{Kinfolk, active_actor};
use crate::text;

impl Kinfolk {
    /// Links an external account after the host's OAuth flow. Linking the
    /// same account to the same user again updates its handle.
    ///
    /// # Errors
    /// `Conflict` when `(provider, external_id)` belongs to another user;
    /// `Validation` for a provider outside `[a-z0-9_-]{1,32}` (lower-cased
    /// first), an external id of 0 or over 255 characters or with control
    /// characters, a handle of 0 or over 100 characters; `Unauthenticated`, `Deactivated`.
    pub async fn link_account(
        &self,
        actor: UserId,
        provider: &str,
        external_id: &str,
        handle: &str,
    ) -> Result<ConnectedAccount> {
        let span = tracing::info_span!("link_account", actor = %actor);
        let (provider, external_id, handle) = account_fields(provider, external_id, handle)?;
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            if let Some(existing) = tx.connected_account(&provider, &external_id)? {
                if existing.user != actor {
                    return Err(Error::Conflict {
                        reason: "this account is linked to another user",
                    });
                }
                if existing.handle == handle {
                    return Ok(existing);
                }
                tx.delete_connected_account(&provider, &external_id)?;
                let updated = ConnectedAccount {
                    handle: handle.clone(),
                    ..existing
                };
                tx.insert_connected_account(&updated)?;
                tx.append_change(
                    now,
                    Change::AccountLinked {
                        user: actor,
                        provider: provider.clone(),
                    },
                )?;
                return Ok(updated);
            }
            let account = ConnectedAccount {
                user: actor,
                provider: provider.clone(),
                external_id: external_id.clone(),
                handle: handle.clone(),
                connected_at: now,
            };
            tx.insert_connected_account(&account)?;
            tx.append_change(
                now,
                Change::AccountLinked {
                    user: actor,
                    provider: provider.clone(),
                },
            )?;
            Ok(account)
        })
        .instrument(span)
        .metered("link_account")
        .await
    }

    /// Unlinks an external account of the caller; reports whether it was linked.
    ///
    /// # Errors
    /// `Unauthenticated`, `Deactivated`. An account linked to someone else is
    /// left alone and reported as not linked.
    pub async fn unlink_account(
        &self,
        actor: UserId,
        provider: &str,
        external_id: &str,
    ) -> Result<bool> {
        let span = tracing::info_span!("unlink_account", actor = %actor);
        let provider = provider.trim().to_ascii_lowercase();
        let external_id = external_id.trim().to_string();
        let now = self.now()?;
        self.wr(move |tx| {
            active_actor(tx, actor)?;
            match tx.connected_account(&provider, &external_id)? {
                Some(a) if a.user == actor => {
                    tx.delete_connected_account(&provider, &external_id)?;
                    tx.append_change(
                        now,
                        Change::AccountUnlinked {
                            user: actor,
                            provider: provider.clone(),
                        },
                    )?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .instrument(span)
        .metered("unlink_account")
        .await
    }

    /// The user an external account is linked to (for the host's sign-in),
    /// deactivated users included so they can sign in to reactivate.
    ///
    /// # Errors
    /// `NotFound` when the account is not linked.
    pub async fn find_by_connected_account(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<UserSummary> {
        let span = tracing::info_span!("find_by_connected_account");
        let provider = provider.trim().to_ascii_lowercase();
        let external_id = external_id.trim().to_string();
        self.rd(move |tx| {
            let account =
                tx.connected_account(&provider, &external_id)?
                    .ok_or(Error::NotFound {
                        what: "connected_account",
                    })?;
            Ok(edges::load(tx, account.user)?.summary())
        })
        .instrument(span)
        .metered("find_by_connected_account")
        .await
    }
}

/// The rule for a connected account's fields: the provider lower-cased and
/// `[a-z0-9_-]{1,32}`, the external id trimmed, 1–255 characters without
/// control characters, the handle one line of 1–100 characters. Returns
/// them normalised.
///
/// # Errors
/// `Validation` (`provider`, `external_id`, `handle`).
pub(crate) fn account_fields(
    provider: &str,
    external_id: &str,
    handle: &str,
) -> Result<(String, String, String)> {
    let provider = provider.trim().to_ascii_lowercase();
    if provider.is_empty()
        || provider.len() > 32
        || !provider
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::validation(
            "provider",
            "must be 1–32 of a-z, 0-9, _ and -",
        ));
    }
    let external_id = external_id.trim().to_string();
    if external_id.is_empty()
        || external_id.chars().count() > 255
        || external_id.chars().any(char::is_control)
    {
        return Err(Error::validation(
            "external_id",
            "must be 1–255 characters, no control characters",
        ));
    }
    let handle = text::single_line("handle", handle, 1, 100)?;
    Ok((provider, external_id, handle))
}
