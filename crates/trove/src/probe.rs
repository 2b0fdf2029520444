//! What is at a path or object URL inside a registered storage location (for path objects
//! of bindings, such as the Python package's `CloudPath.exists()`).

use trove_domain::Result;

use crate::Trove;

impl Trove {
    /// What is at `uri` (an object URL such as `s3://bucket/prefix/x.csv`, or a local path)
    /// inside a registered storage location: `Some(false)` an object or file, `Some(true)` a
    /// folder (objects below it), `None` nothing. A `uri` inside no registered location is an
    /// `invalid_input` error.
    pub async fn probe(&self, uri: &str) -> Result<Option<bool>> {
        let (store, rel) = self.locate(uri)?;
        let s = store.store.as_ref();
        let rel = rel.trim_end_matches('/');
        if !rel.is_empty() && s.stat(rel).await?.is_some() {
            return Ok(Some(false));
        }
        let prefix = if rel.is_empty() { String::new() } else { format!("{rel}/") };
        Ok(if s.list(&prefix).await?.is_empty() { None } else { Some(true) })
    }
}
