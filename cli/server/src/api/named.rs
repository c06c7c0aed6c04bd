//! What sources and queries share in the API: found by name, put as new
//! (201) or as a replacement (200).

use axum::Json;
use axum::http::StatusCode;

use super::{ApiError, Ctl, blocking};
use crate::control::{Control, ControlError, QueryView, SourceView};

/// A source or a query as listed.
pub(super) trait Named: Sized + Send + 'static {
    /// `source` or `query`, for messages.
    const KIND: &'static str;
    /// Its name.
    fn name(&self) -> &str;
    /// Every one, as [`Control`] lists them.
    fn list(control: &dyn Control) -> Vec<Self>;
}

impl Named for SourceView {
    const KIND: &'static str = "source";
    fn name(&self) -> &str {
        &self.name
    }
    fn list(control: &dyn Control) -> Vec<Self> {
        control.sources()
    }
}

impl Named for QueryView {
    const KIND: &'static str = "query";
    fn name(&self) -> &str {
        &self.name
    }
    fn list(control: &dyn Control) -> Vec<Self> {
        control.queries()
    }
}

/// The one named `name`, or 404.
pub(super) fn find<T: Named>(control: &dyn Control, name: &str) -> Result<T, ApiError> {
    T::list(control)
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| {
            ControlError::NotFound {
                kind: T::KIND,
                name: name.to_owned(),
            }
            .into()
        })
}

/// Runs `put` for the one named `name`: 201 and the new one as listed, or
/// 200 when it replaced one.
pub(super) async fn upsert<T: Named>(
    control: Ctl,
    name: String,
    put: impl FnOnce(&dyn Control) -> Result<(), ControlError> + Send + 'static,
) -> Result<(StatusCode, Json<T>), ApiError> {
    blocking(control, move |c| {
        let existed = T::list(c).iter().any(|t| t.name() == name);
        put(c)?;
        let status = if existed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        Ok((status, Json(find::<T>(c, &name)?)))
    })
    .await?
}
