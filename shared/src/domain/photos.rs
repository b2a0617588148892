//! A listing's photos as requests may give them: the PRD's plain URLs (`["url1", "url2"]`) or
//! `{url, description}` objects, mixed freely. They are kept and answered as objects; a URL
//! alone has an empty description (a photo no one has described yet).

use std::{
    borrow::Cow,
    ops::{Deref, DerefMut},
};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Photo;

/// The longest photo URL accepted.
const MAX_URL: usize = 2000;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Photos(pub Vec<Photo>);

// A slice, as poem's `max_items` validator wants.
impl Deref for Photos {
    type Target = [Photo];

    fn deref(&self) -> &[Photo] {
        &self.0
    }
}

impl DerefMut for Photos {
    fn deref_mut(&mut self) -> &mut [Photo] {
        &mut self.0
    }
}

impl FromIterator<Photo> for Photos {
    fn from_iter<I: IntoIterator<Item = Photo>>(photos: I) -> Self {
        Photos(photos.into_iter().collect())
    }
}

impl From<Vec<Photo>> for Photos {
    fn from(photos: Vec<Photo>) -> Self {
        Photos(photos)
    }
}

/// One photo as given: a URL, or an object.
#[derive(Deserialize)]
#[serde(untagged)]
enum Given {
    Url(String),
    Photo(Photo),
}

impl From<Given> for Photo {
    fn from(given: Given) -> Photo {
        match given {
            Given::Url(url) => Photo {
                url,
                description: String::new(),
            },
            Given::Photo(photo) => photo,
        }
    }
}

impl<'de> Deserialize<'de> for Photos {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let given = Vec::<Given>::deserialize(deserializer)?;
        Ok(Photos(given.into_iter().map(Photo::from).collect()))
    }
}

impl Type for Photos {
    const IS_REQUIRED: bool = false;
    type RawValueType = Self;
    type RawElementValueType = Photo;

    fn name() -> Cow<'static, str> {
        "Photos".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let url = MetaSchema {
            description: Some("The photo's URL alone: it has no description yet."),
            min_length: Some(1),
            max_length: Some(MAX_URL),
            ..MetaSchema::new("string")
        };
        let either = MetaSchema {
            one_of: vec![MetaSchemaRef::Inline(Box::new(url)), Photo::schema_ref()],
            ..MetaSchema::ANY
        };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("Photo URLs, or `{url, description}` objects (answered as objects)."),
            items: Some(Box::new(MetaSchemaRef::Inline(Box::new(either)))),
            ..MetaSchema::new("array")
        }))
    }

    fn register(registry: &mut Registry) {
        Photo::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Photo> + 'a> {
        Box::new(self.0.iter())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for Photos {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let items = match value {
            None | Some(Value::Null) => return Ok(Photos::default()),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(ParseError::expected_type(other)),
        };
        let mut photos = Vec::with_capacity(items.len());
        for item in items {
            photos.push(match item {
                Value::String(url) if !url.is_empty() && url.chars().count() <= MAX_URL => Photo {
                    url,
                    description: String::new(),
                },
                Value::String(_) => {
                    return Err(ParseError::custom(format!(
                        "a photo URL must be 1 to {MAX_URL} characters"
                    )));
                }
                object => Photo::parse_from_json(Some(object)).map_err(ParseError::propagate)?,
            });
        }
        Ok(Photos(photos))
    }
}

impl ToJSON for Photos {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Array(
            self.0.iter().filter_map(ToJSON::to_json).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn urls_and_objects_both_become_photos() {
        let given = json!(["https://a/1.jpg", { "url": "https://a/2.jpg", "description": "Pool" }]);
        let parsed = Photos::parse_from_json(Some(given.clone())).unwrap();
        let expected = Photos(vec![
            Photo {
                url: "https://a/1.jpg".into(),
                description: String::new(),
            },
            Photo {
                url: "https://a/2.jpg".into(),
                description: "Pool".into(),
            },
        ]);
        assert_eq!(parsed, expected);
        let stored: Photos = serde_json::from_value(given).unwrap();
        assert_eq!(stored, expected);
        assert_eq!(parsed.to_json().unwrap()[0]["url"], "https://a/1.jpg");
        assert!(Photos::parse_from_json(Some(json!([""]))).is_err());
        assert!(Photos::parse_from_json(Some(json!("https://a/1.jpg"))).is_err());
    }
}
