//! Personas and listings turned, once per run, into what pair scoring needs: word sets as sorted
//! hashes (so a pair costs a few binary searches, not string work), prices, and embeddings.

use std::collections::HashMap;

use serde_json::Value;
use troupe_shared::{
    criteria::{
        conditions::Condition,
        kinds::{self, Kind},
        places::{Place, gazetteer},
    },
    domain::{BrokeragePlace, FeedbackOutcome, Persona, Property},
    store::PairFeedback,
};
use uuid::Uuid;

use super::facts::ListingFacts;
use crate::engine::text::words;

/// A sorted set of word hashes.
#[derive(Debug, Clone, Default)]
pub struct WordSet(Vec<u64>);

impl WordSet {
    pub fn of(text: &str) -> WordSet {
        let mut hashes: Vec<u64> = words(text).iter().map(|w| word_hash(w)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        WordSet(hashes)
    }

    pub fn contains(&self, hash: u64) -> bool {
        self.0.binary_search(&hash).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every word of `phrase` is in this set (an empty phrase never is).
    pub fn has_all(&self, phrase: &WordSet) -> bool {
        !phrase.is_empty() && phrase.0.iter().all(|&w| self.contains(w))
    }

    /// How many of `other`'s words are in this set.
    pub fn overlap(&self, other: &WordSet) -> usize {
        other.0.iter().filter(|&&w| self.contains(w)).count()
    }
}

/// FNV-1a: stable across processes and releases, unlike std's randomized hasher.
pub fn word_hash(word: &str) -> u64 {
    word.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A phrase as written and as words.
#[derive(Debug, Clone)]
pub struct Phrase {
    pub text: String,
    pub words: WordSet,
}

fn phrases(items: &[String]) -> Vec<Phrase> {
    items
        .iter()
        .map(|text| Phrase {
            text: text.clone(),
            words: WordSet::of(text),
        })
        .filter(|p| !p.words.is_empty())
        .collect()
}

/// A deal-breaker or want, read as a condition, with its words for when it could not be read.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub condition: Condition,
    pub words: WordSet,
}

fn conditions(items: &[String], read: fn(&str) -> Condition) -> Vec<Wanted> {
    items
        .iter()
        .map(|text| Wanted {
            condition: read(text),
            words: WordSet::of(text),
        })
        .filter(|w| w.condition.is_read() || !w.words.is_empty())
        .collect()
}

/// A place the client named, with what the gazetteer knows of it (nothing, for a name it does
/// not hold: then only the listing's own words can match it).
#[derive(Debug, Clone)]
pub struct WantedPlace {
    pub text: String,
    pub words: WordSet,
    pub places: Vec<Place>,
}

/// The client's property types, read as the kinds they accept and the styles they like; the
/// phrases that are neither are kept as words.
struct TypesRead {
    kinds: Vec<Kind>,
    styles: Vec<&'static str>,
    unread: Vec<Phrase>,
}

fn read_types(items: &[String]) -> TypesRead {
    let mut read = TypesRead {
        kinds: Vec::new(),
        styles: Vec::new(),
        unread: Vec::new(),
    };
    for text in items {
        let reading = kinds::read_type(text);
        for kind in &reading.kinds {
            if !read.kinds.contains(kind) {
                read.kinds.push(*kind);
            }
        }
        read.styles
            .extend(reading.style.filter(|s| !read.styles.contains(s)));
        if reading.kinds.is_empty() && reading.style.is_none() {
            read.unread.extend(phrases(std::slice::from_ref(text)));
        }
    }
    read
}

/// The text that describes a client, for embeddings.
pub fn persona_text(persona: &Persona) -> String {
    let p = &persona.profile;
    let prefs = &p.preferences;
    [
        p.biography.clone().unwrap_or_default(),
        prefs.features.join(", "),
        prefs.property_types.join(", "),
        prefs.locations.join(", "),
        p.knowledge_graph.interests.join(", "),
    ]
    .join(". ")
}

/// The text that describes a listing, for embeddings and word matching.
pub fn property_text(property: &Property) -> String {
    let d = &property.details;
    let mut parts = vec![
        d.title.clone(),
        d.description.clone(),
        d.features.join(", "),
        d.property_type.clone().unwrap_or_default(),
        d.location.display(),
    ];
    parts.extend(d.photos.iter().map(|photo| photo.description.clone()));
    parts.join(". ")
}

pub struct PreparedPersona {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    pub name: String,
    pub budget: (Option<f64>, Option<f64>),
    pub places: Vec<WantedPlace>,
    /// The kinds of property the client accepts (empty: any).
    pub kinds: Vec<Kind>,
    /// Architectural styles the client likes: wants, not limits.
    pub styles: Vec<&'static str>,
    /// Property-type phrases read as neither kind nor style, matched as words.
    pub unread_types: Vec<Phrase>,
    pub features: Vec<Wanted>,
    pub deal_breakers: Vec<Wanted>,
    pub interests: Vec<Phrase>,
    /// Words of the properties the client bought, sold or viewed.
    pub past_properties: WordSet,
    pub communication_preference: Option<String>,
    pub decision_style: Option<String>,
    pub embedding: Vec<f32>,
    /// Listings the client said no to, and the words of their reasons.
    pub rejected: Vec<Uuid>,
    pub dislikes: Vec<Phrase>,
    /// Words of listings the client showed interest in.
    pub liked: WordSet,
}

impl PreparedPersona {
    pub fn new(
        persona: &Persona,
        embedding: Vec<f32>,
        feedback: &[&PairFeedback],
        liked_texts: &[String],
        own_places: &[BrokeragePlace],
    ) -> Self {
        let p = &persona.profile;
        let prefs = &p.preferences;
        let past: Vec<String> = p
            .knowledge_graph
            .past_properties
            .iter()
            .map(value_text)
            .collect();
        let reasons: Vec<String> = feedback
            .iter()
            .filter(|f| f.outcome == FeedbackOutcome::NotInterested)
            .filter_map(|f| f.reason.clone())
            .collect();
        let types = read_types(&prefs.property_types);
        PreparedPersona {
            id: persona.id,
            brokerage_id: persona.brokerage_id,
            name: p.name.clone(),
            budget: prefs
                .budget
                .as_ref()
                .map_or((None, None), |b| (b.min, b.max)),
            places: prefs
                .locations
                .iter()
                .map(|text| WantedPlace {
                    text: text.clone(),
                    words: WordSet::of(text),
                    places: gazetteer().resolve_with(text, own_places),
                })
                .filter(|p| !p.words.is_empty() || !p.places.is_empty())
                .collect(),
            kinds: types.kinds,
            styles: types.styles,
            unread_types: types.unread,
            features: conditions(&prefs.features, Condition::want),
            deal_breakers: conditions(&prefs.deal_breakers, Condition::deal_breaker),
            interests: phrases(&p.knowledge_graph.interests),
            past_properties: WordSet::of(&past.join(" ")),
            communication_preference: p.personality_traits.communication_preference.clone(),
            decision_style: p.personality_traits.decision_style.clone(),
            embedding,
            rejected: feedback
                .iter()
                .filter(|f| f.outcome == FeedbackOutcome::NotInterested)
                .map(|f| f.property_id)
                .collect(),
            dislikes: phrases(&reasons),
            liked: WordSet::of(&liked_texts.join(" ")),
        }
    }
}

/// The words of a free-form JSON record (a past property): its string values.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(" "),
        Value::Object(map) => map.values().map(value_text).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

pub struct PreparedProperty {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    pub title: String,
    pub price: f64,
    pub city: Option<String>,
    pub words: WordSet,
    pub location: WordSet,
    pub type_words: WordSet,
    pub facts: ListingFacts,
    pub features: Vec<Phrase>,
    /// Photo descriptions, numbered from 1.
    pub photos: Vec<(usize, Phrase)>,
    pub embedding: Vec<f32>,
}

impl PreparedProperty {
    pub fn new(property: &Property, embedding: Vec<f32>) -> Self {
        let d = &property.details;
        PreparedProperty {
            id: property.id,
            brokerage_id: property.brokerage_id,
            title: d.title.clone(),
            price: d.price,
            city: d.location.city.clone(),
            words: WordSet::of(&property_text(property)),
            location: WordSet::of(&d.location.display()),
            type_words: WordSet::of(d.property_type.as_deref().unwrap_or_default()),
            facts: ListingFacts::of(property),
            features: phrases(&d.features),
            photos: d
                .photos
                .iter()
                .enumerate()
                .map(|(i, photo)| {
                    (
                        i + 1,
                        Phrase {
                            text: photo.description.clone(),
                            words: WordSet::of(&photo.description),
                        },
                    )
                })
                .collect(),
            embedding,
        }
    }
}

/// Feedback grouped by client.
pub fn feedback_by_persona(feedback: &[PairFeedback]) -> HashMap<Uuid, Vec<&PairFeedback>> {
    let mut grouped: HashMap<Uuid, Vec<&PairFeedback>> = HashMap::new();
    for item in feedback {
        grouped.entry(item.persona_id).or_default().push(item);
    }
    grouped
}
