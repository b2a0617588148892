//! What kind of property a listing is, after RESO's PropertyType/PropertySubType, and its
//! architectural style, kept apart: "modern" is a style a single-family home or a condominium can
//! have, not a kind of property, and a client who wants an "estate" wants a single-family home.

use std::sync::OnceLock;

use super::tokens::{occurrences, tokens};

/// RESO PropertySubType values, the ones luxury listings use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SingleFamily,
    Condominium,
    Cooperative,
    Townhouse,
    MultiFamily,
    Farm,
    Land,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::SingleFamily => "a single-family home",
            Kind::Condominium => "a condominium",
            Kind::Cooperative => "a co-op apartment",
            Kind::Townhouse => "a townhouse",
            Kind::MultiFamily => "a multi-family building",
            Kind::Farm => "a farm or ranch",
            Kind::Land => "land",
        }
    }
}

/// The words for kinds, and which kinds a client who uses them accepts. Longer phrases first:
/// "single family" before "family".
const KIND_WORDS: &[(&str, &[Kind])] = &[
    ("single family residence", &[Kind::SingleFamily]),
    ("single family", &[Kind::SingleFamily]),
    ("singlefamily", &[Kind::SingleFamily]),
    ("detached", &[Kind::SingleFamily]),
    ("estate", &[Kind::SingleFamily]),
    ("villa", &[Kind::SingleFamily]),
    ("mansion", &[Kind::SingleFamily]),
    ("chalet", &[Kind::SingleFamily]),
    ("chateau", &[Kind::SingleFamily]),
    ("castle", &[Kind::SingleFamily]),
    ("manor", &[Kind::SingleFamily]),
    ("cabin", &[Kind::SingleFamily]),
    ("lodge", &[Kind::SingleFamily]),
    ("cottage", &[Kind::SingleFamily]),
    ("bungalow", &[Kind::SingleFamily]),
    ("compound", &[Kind::SingleFamily]),
    ("house", &[Kind::SingleFamily]),
    ("home", &[Kind::SingleFamily]),
    ("residence", &[Kind::SingleFamily]),
    ("penthouse", &[Kind::Condominium, Kind::Cooperative]),
    ("condominium", &[Kind::Condominium]),
    ("condo", &[Kind::Condominium]),
    ("apartment", &[Kind::Condominium, Kind::Cooperative]),
    ("flat", &[Kind::Condominium, Kind::Cooperative]),
    ("loft", &[Kind::Condominium, Kind::Cooperative]),
    ("pied a terre", &[Kind::Condominium, Kind::Cooperative]),
    ("stock cooperative", &[Kind::Cooperative]),
    ("cooperative", &[Kind::Cooperative]),
    ("co op", &[Kind::Cooperative]),
    ("coop", &[Kind::Cooperative]),
    ("townhouse", &[Kind::Townhouse]),
    ("townhome", &[Kind::Townhouse]),
    ("town house", &[Kind::Townhouse]),
    ("brownstone", &[Kind::Townhouse]),
    ("row house", &[Kind::Townhouse]),
    ("mews house", &[Kind::Townhouse]),
    ("terraced house", &[Kind::Townhouse]),
    ("multi family", &[Kind::MultiFamily]),
    ("duplex", &[Kind::MultiFamily]),
    ("triplex", &[Kind::MultiFamily]),
    ("ranch", &[Kind::Farm]),
    ("farm", &[Kind::Farm]),
    ("vineyard estate", &[Kind::Farm]),
    ("vineyard", &[Kind::Farm]),
    ("equestrian", &[Kind::Farm]),
    ("land", &[Kind::Land]),
    ("lot", &[Kind::Land]),
    ("parcel", &[Kind::Land]),
    ("acreage", &[Kind::Land]),
];

/// Architectural styles.
const STYLES: &[(&str, &[&str])] = &[
    (
        "modern",
        &[
            "modern",
            "modernist",
            "contemporary",
            "minimalist",
            "glass and steel",
        ],
    ),
    ("mid-century modern", &["mid century", "midcentury", "mcm"]),
    ("Mediterranean", &["mediterranean", "tuscan", "italianate"]),
    (
        "Spanish",
        &["spanish", "spanish colonial", "mission style", "hacienda"],
    ),
    (
        "Georgian",
        &["georgian", "regency", "palladian", "neoclassical"],
    ),
    ("colonial", &["colonial", "federal style", "cape cod"]),
    ("Victorian", &["victorian", "edwardian", "queen anne"]),
    ("Craftsman", &["craftsman", "arts and crafts"]),
    ("Tudor", &["tudor"]),
    ("traditional", &["traditional", "classic"]),
    ("farmhouse", &["farmhouse", "modern farmhouse"]),
    (
        "French",
        &[
            "french country",
            "french normandy",
            "chateau style",
            "beaux art",
        ],
    ),
    ("Art Deco", &["art deco"]),
    ("alpine", &["alpine", "chalet style"]),
    ("coastal", &["coastal", "shingle style", "beach house"]),
    ("ranch-style", &["ranch style", "ranch house"]),
];

/// What a client's property-type phrase says: kinds they accept, a style they want, both
/// ("modern villa") or neither.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeReading {
    pub kinds: Vec<Kind>,
    pub style: Option<&'static str>,
}

pub fn read_type(phrase: &str) -> TypeReading {
    let words = tokens(phrase);
    let style = style_in(&words);
    // "ranch-style" is a style, not a ranch.
    let kinds = if style == Some("ranch-style") {
        Vec::new()
    } else {
        kinds_in(&words)
    };
    TypeReading { kinds, style }
}

/// The kind a listing's property type names (`single_family`, "Estate", "Penthouse"), if any.
pub fn listing_kind(property_type: &str) -> Option<Kind> {
    let words = tokens(&property_type.replace('_', " "));
    kinds_in(&words).first().copied()
}

/// The styles a listing's words name.
pub fn styles_in(words: &[String]) -> Vec<&'static str> {
    read_styles()
        .iter()
        .filter(|(_, phrases)| {
            phrases
                .iter()
                .any(|p| occurrences(words, p).next().is_some())
        })
        .map(|(name, _)| *name)
        .collect()
}

fn style_in(words: &[String]) -> Option<&'static str> {
    // The longest phrase wins: "mid century modern" is mid-century, not modern.
    read_styles()
        .iter()
        .flat_map(|(name, phrases)| phrases.iter().map(move |p| (*name, p)))
        .filter(|(_, p)| occurrences(words, p).next().is_some())
        .max_by_key(|(_, p)| p.len())
        .map(|(name, _)| name)
}

fn kinds_in(words: &[String]) -> Vec<Kind> {
    static READ: OnceLock<Vec<(Vec<String>, &[Kind])>> = OnceLock::new();
    let read = READ.get_or_init(|| KIND_WORDS.iter().map(|(p, k)| (tokens(p), *k)).collect());
    read.iter()
        .find(|(pattern, _)| occurrences(words, pattern).next().is_some())
        .map(|(_, kinds)| kinds.to_vec())
        .unwrap_or_default()
}

/// A style's name and its phrases as words.
type StyleWords = (&'static str, Vec<Vec<String>>);

/// [`STYLES`] as words, read once.
fn read_styles() -> &'static [StyleWords] {
    static READ: OnceLock<Vec<StyleWords>> = OnceLock::new();
    READ.get_or_init(|| {
        STYLES
            .iter()
            .map(|(name, phrases)| (*name, phrases.iter().map(|p| tokens(p)).collect()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_styles_are_read_apart() {
        assert_eq!(read_type("estate").kinds, [Kind::SingleFamily]);
        assert_eq!(
            read_type("modern"),
            TypeReading {
                kinds: vec![],
                style: Some("modern")
            }
        );
        let villa = read_type("Mediterranean villa");
        assert_eq!(
            (villa.kinds, villa.style),
            (vec![Kind::SingleFamily], Some("Mediterranean"))
        );
        assert_eq!(
            read_type("penthouse").kinds,
            [Kind::Condominium, Kind::Cooperative]
        );
        assert_eq!(read_type("ranch-style home").kinds, Vec::<Kind>::new());
        assert_eq!(read_type("Montana ranch").kinds, [Kind::Farm]);
        assert_eq!(
            read_type("mid-century modern").style,
            Some("mid-century modern")
        );
    }

    #[test]
    fn listing_types_as_entered() {
        assert_eq!(listing_kind("single_family"), Some(Kind::SingleFamily));
        assert_eq!(listing_kind("Condo"), Some(Kind::Condominium));
        assert_eq!(listing_kind("Penthouse"), Some(Kind::Condominium));
        assert_eq!(listing_kind("something else"), None);
    }
}
