//! Cursor pagination for the list endpoints: a page size within bounds, an opaque cursor (the last
//! id of the previous page), and one row more than the page, fetched to tell whether another
//! page follows.

use uuid::Uuid;

use crate::problem::ApiError;

/// The page size asked for, or `default`. Its range is the `limit` parameter's in the published
/// schema, which the contract checks before a handler runs.
pub fn page_size(requested: Option<u32>, default: u32) -> u32 {
    requested.unwrap_or(default)
}

pub fn cursor(raw: Option<String>) -> Result<Option<Uuid>, ApiError> {
    raw.map(|c| {
        Uuid::try_parse(&c)
            .map_err(|_| ApiError::Validation("cursor is not one this API issued".into()))
    })
    .transpose()
}

/// Cuts `items` (fetched with `size + 1` rows) to the page and returns the next page's cursor,
/// if there is a next page.
pub fn next_cursor<T>(items: &mut Vec<T>, size: u32, id: impl Fn(&T) -> Uuid) -> Option<String> {
    if items.len() <= size as usize {
        return None;
    }
    items.truncate(size as usize);
    items.last().map(|item| id(item).to_string())
}
