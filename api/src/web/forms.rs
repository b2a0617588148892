//! What the create and edit forms share: reading a posted form, turning its fields into the JSON
//! the API takes (so a form is checked by the same schema and rules as `POST`/`PATCH`), and
//! showing what was refused next to the fields it names.

use maud::{Markup, html};
use poem::{Request, Response, http::StatusCode, web::Multipart};
use serde_json::{Map, Value};

use troupe_shared::store::ClientChoice;

use super::{
    error::PageError,
    layout::{self, Section},
    session::{SignedIn, same_origin},
};
use crate::{
    ApiState,
    audit::{Listed, ReadVia, audit_listed},
    problem::ApiError,
};

/// Stored clients and listings a form's list offers (the first ones, oldest first for clients).
pub const OFFERED: u32 = 200;

/// The clients a form offers by name. Names shown are names read: audited as the client book's
/// list is.
pub async fn offered_clients(
    state: &ApiState,
    me: &SignedIn,
) -> Result<Vec<ClientChoice>, PageError> {
    let clients = state.store.client_choices(&me.principal, OFFERED).await?;
    audit_listed(
        state,
        &me.principal,
        Listed::Personas,
        clients.iter().map(|c| c.id),
        ReadVia::Web,
    )
    .await?;
    Ok(clients)
}

/// A form post's sender and fields, once its origin and CSRF token hold.
pub async fn signed_post(req: &Request, body: &str) -> Result<(SignedIn, Posted), PageError> {
    same_origin(req)?;
    let me = SignedIn::from_request(req).await?;
    let posted = Posted::parse(body);
    me.check_csrf(posted.text("csrf"))?;
    Ok((me, posted))
}

/// A CSV sent by an import form (`multipart/form-data`): the file chosen, else the text pasted
/// (`file` and `csv`), once origin and CSRF token hold; the form's other fields beside it.
pub async fn uploaded_csv(
    req: &Request,
    mut multipart: Multipart,
) -> Result<(SignedIn, String, Posted), PageError> {
    same_origin(req)?;
    let me = SignedIn::from_request(req).await?;
    let unreadable =
        |e: poem::Error| PageError::BadForm(format!("the form could not be read: {e}"));
    let (mut uploaded, mut pasted, mut others) = (String::new(), String::new(), Vec::new());
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| unreadable(e.into()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let text = field.text().await.map_err(|e| unreadable(e.into()))?;
        match name.as_str() {
            "file" => uploaded = text,
            "csv" => pasted = text,
            _ => others.push((name, text)),
        }
    }
    let fields = Posted(others);
    me.check_csrf(fields.text("csrf"))?;
    let text = if uploaded.trim().is_empty() {
        pasted
    } else {
        uploaded
    };
    if text.trim().is_empty() {
        return Err(PageError::BadForm(
            "choose a CSV file or paste its contents".into(),
        ));
    }
    Ok((me, text, fields))
}

/// A form's page in `section`: the crumbs, the title, what was refused (then a 400) and the form.
/// `what` names the thing the form saves in the refusal ("The client").
pub struct FormPage<'a> {
    pub section: Section,
    pub what: &'a str,
    pub title: &'a str,
    pub crumbs: Markup,
}

impl FormPage<'_> {
    pub fn render(self, me: &SignedIn, form: Markup, problems: &[String]) -> Response {
        let page = html! {
            p.crumbs { (self.crumbs) }
            h1 { (self.title) }
            (refused_box(self.what, problems))
            (form)
        };
        let mut response = layout::page(me, self.section, self.title, page);
        if !problems.is_empty() {
            response.set_status(StatusCode::BAD_REQUEST);
        }
        response
    }
}

/// A posted `application/x-www-form-urlencoded` body, in order, repeated names kept.
pub struct Posted(Vec<(String, String)>);

impl Posted {
    pub fn parse(body: &str) -> Self {
        Posted(
            form_urlencoded::parse(body.as_bytes())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// A form filled in advance (a new form's defaults).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Posted(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// Every non-empty value of `name` (ticked boxes), trimmed.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first value of `name`, trimmed (`""` when absent).
    pub fn text(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Each non-empty line of a textarea.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.text(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Builds the JSON a form stands for, collecting what cannot be read as it goes.
pub struct Document<'a> {
    posted: &'a Posted,
    pub value: Value,
    pub problems: Vec<String>,
    /// An empty field writes `null` (a merge patch's "remove") instead of leaving the member out.
    empty_as_null: bool,
}

impl<'a> Document<'a> {
    /// Over `base` (the stored record, for an edit; an empty object for a new one), so the
    /// members the form does not show are kept.
    pub fn over(posted: &'a Posted, base: Value) -> Self {
        Document {
            posted,
            value: base,
            problems: Vec::new(),
            empty_as_null: false,
        }
    }

    /// An RFC 7396 merge patch: what the form shows replaces the record's, an empty field
    /// removes its member, and what the form does not show is left alone.
    pub fn patch(posted: &'a Posted) -> Self {
        Document {
            empty_as_null: true,
            ..Document::over(posted, Value::Object(Map::new()))
        }
    }

    fn slot(&mut self, path: &[&str]) -> &mut Value {
        let mut at = &mut self.value;
        for key in path {
            if !at.is_object() {
                *at = Value::Object(Map::new());
            }
            at = at
                .as_object_mut()
                .expect("made an object")
                .entry(key.to_string())
                .or_insert(Value::Null);
        }
        at
    }

    fn put(&mut self, path: &[&str], value: Option<Value>) {
        match value {
            Some(value) => *self.slot(path) = value,
            None if self.empty_as_null => *self.slot(path) = Value::Null,
            None => {
                let (last, parents) = path.split_last().expect("a path");
                if let Some(parent) = self.slot(parents).as_object_mut() {
                    parent.remove(*last);
                }
            }
        }
    }

    /// Field `name` as text at `path`; an empty field removes the member.
    pub fn text(&mut self, name: &str, path: &[&str]) {
        let text = self.posted.text(name);
        let value = (!text.is_empty()).then(|| Value::String(text.to_owned()));
        self.put(path, value);
    }

    /// Field `name` as a number at `path` (`label` names it in a refusal); `$` and thousands
    /// separators are read past, since people type prices that way.
    pub fn number(&mut self, name: &str, label: &str, path: &[&str]) {
        let raw = self.posted.text(name);
        let cleaned: String = raw
            .chars()
            .filter(|c| !matches!(c, ',' | '$' | ' ' | '_'))
            .collect();
        if cleaned.is_empty() {
            self.put(path, None);
            return;
        }
        match cleaned.parse::<f64>() {
            Ok(n) if n.is_finite() => {
                let value = if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    Value::from(n as i64)
                } else {
                    Value::from(n)
                };
                self.put(path, Some(value));
            }
            _ => self
                .problems
                .push(format!("{label}: \"{raw}\" is not a number.")),
        }
    }

    /// Field `name`'s lines as a list at `path`.
    pub fn lines(&mut self, name: &str, path: &[&str]) {
        let lines = self
            .posted
            .lines(name)
            .into_iter()
            .map(Value::String)
            .collect();
        self.put(path, Some(Value::Array(lines)));
    }

    /// Sets `path` to a value of the form's own making.
    pub fn set(&mut self, path: &[&str], value: Option<Value>) {
        self.put(path, value);
    }
}

/// A stored number as a person would type it: `42500000`, not `42500000.0`.
pub fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

/// What the API refused, as sentences: each named violation on its own, with the member's
/// pointer replaced by the form's label for it (`labels`: pointer prefix → label).
pub fn refusals(err: &ApiError, labels: &[(&str, &str)]) -> Vec<String> {
    let violations = match err {
        ApiError::InvalidBody(v) | ApiError::BrokenRule(v) | ApiError::InvalidQuery(v) => v,
        other => return vec![sentence(&other.to_string())],
    };
    violations
        .iter()
        .map(|v| {
            let label = labels
                .iter()
                .filter(|(prefix, _)| v.pointer.starts_with(prefix))
                .max_by_key(|(prefix, _)| prefix.len())
                .map(|(_, label)| *label);
            match label {
                Some(label) => {
                    let detail = v.detail.replace(&format!("`{}`", v.pointer), "it");
                    sentence(&format!("{label}: {detail}"))
                }
                None => sentence(&v.detail),
            }
        })
        .collect()
}

fn sentence(text: &str) -> String {
    let mut text = text.trim().to_owned();
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

/// The box at the top of a refused form.
pub fn refused_box(what: &str, problems: &[String]) -> Markup {
    html! {
        @if !problems.is_empty() {
            div.alert role="alert" {
                p { (what) " was not saved:" }
                ul { @for p in problems { li { (p) } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_form_overlays_the_stored_record_and_reads_numbers_as_people_type_them() {
        let posted = Posted::parse(
            "title=Villa&price=%2442%2C500%2C000&city=&beds=x&features=a%0D%0A%0D%0Ab",
        );
        let mut doc = Document::over(
            &posted,
            json!({ "title": "Old", "location": { "city": "Aspen", "region": "CO" }, "kept": 1 }),
        );
        doc.text("title", &["title"]);
        doc.number("price", "Price", &["price"]);
        doc.text("city", &["location", "city"]);
        doc.number("beds", "Bedrooms", &["bedrooms"]);
        doc.lines("features", &["features"]);
        assert_eq!(
            doc.value,
            json!({ "title": "Villa", "price": 42_500_000, "location": { "region": "CO" },
                    "kept": 1, "features": ["a", "b"] })
        );
        assert_eq!(
            doc.problems,
            vec!["Bedrooms: \"x\" is not a number.".to_owned()]
        );
    }

    #[test]
    fn refusals_name_the_field_by_its_label() {
        let err = ApiError::InvalidBody(vec![crate::contract::Violation {
            pointer: "/preferences/budget/max".into(),
            detail: "`/preferences/budget/max` must be at least 0".into(),
        }]);
        assert_eq!(
            refusals(&err, &[("/preferences/budget", "Budget")]),
            vec!["Budget: it must be at least 0.".to_owned()]
        );
    }
}
