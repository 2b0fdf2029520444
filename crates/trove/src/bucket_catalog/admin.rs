//! The lease seen from the façade: who holds it, and breaking it (`trove instance unlock`).

use trove_domain::{Error, ErrorKind, Result};

use super::LeaseInfo;
use crate::Trove;

impl Trove {
    /// The bucket store holding this instance's catalog, for an instance in a bucket.
    fn catalog_bucket(&self) -> Result<&crate::Store> {
        let location = self.location();
        self.storages()
            .into_iter()
            .find(|l| l.root == location && self.manages(l))
            .and_then(|l| self.store(l.id).ok())
            .filter(|_| self.catalog_backend() == super::BACKEND)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "instance '{}' keeps its catalog in {} ({}), not in a bucket: it has no lease",
                        self.instance().name,
                        self.location(),
                        self.catalog_backend()
                    ),
                )
            })
    }

    /// For an instance in a bucket: the write lease held now, if any (who, since and until
    /// when). Other instances have none ([`ErrorKind::Unsupported`]).
    pub async fn lease(&self) -> Result<Option<LeaseInfo>> {
        super::current_lease(self.catalog_bucket()?.store.as_ref()).await
    }

    /// Break the lease `seen` (from [`Trove::lease`], shown to whoever decided): it is deleted
    /// only if it is still that very lease, so a lease taken since is never broken by mistake.
    /// Returns whether it was deleted. The writer that held it cannot overwrite anything
    /// afterwards: its catalog upload is conditional on the version it started from, and fails.
    pub async fn break_lease(&self, seen: &LeaseInfo) -> Result<bool> {
        super::break_lease(self.catalog_bucket()?.store.as_ref(), seen).await
    }
}
