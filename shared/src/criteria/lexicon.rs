//! The real-estate vocabulary the criteria understand: features, views and adjacencies a
//! listing has or lacks, and the burdens (an HOA, a busy road, a flight path) nobody wants.
//! Each concept lists the ways briefs and listings say it (synonyms) and the particular sorts of
//! it ("infinity pool" of pool). A phrase matches when one of them occurs in it word for word
//! (after [`super::tokens`]). A client who names the concept is satisfied by any sort of it; one
//! who names a sort ("a sauna") only by that sort: a steam room is a spa, but not a sauna.

use std::sync::OnceLock;

use super::tokens::tokens;

/// One thing a listing can have.
#[derive(Debug, PartialEq)]
pub struct Concept {
    pub key: &'static str,
    /// How a sentence names it: "a garage".
    pub label: &'static str,
    pub synonyms: &'static [&'static str],
    pub sorts: &'static [&'static str],
    /// Something no client wants: "no HOA" among deal-breakers still means the HOA is the
    /// deal-breaker, where "no garage" means the missing garage is.
    pub burden: bool,
}

const fn concept(
    key: &'static str,
    label: &'static str,
    synonyms: &'static [&'static str],
    sorts: &'static [&'static str],
) -> Concept {
    Concept {
        key,
        label,
        synonyms,
        sorts,
        burden: false,
    }
}

const fn burden(
    key: &'static str,
    label: &'static str,
    synonyms: &'static [&'static str],
) -> Concept {
    Concept {
        burden: true,
        ..concept(key, label, synonyms, &[])
    }
}

impl Concept {
    /// The label without its article, for "has no garage".
    pub fn bare_label(&self) -> &'static str {
        let label = self.label;
        label
            .strip_prefix("a ")
            .or_else(|| label.strip_prefix("an "))
            .unwrap_or(label)
    }
}

/// A sort named in a sentence: "a sauna", "an infinity pool", "stables".
pub fn sort_label(sort: &str) -> String {
    match sort.chars().next() {
        _ if sort.ends_with('s') => sort.to_owned(),
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {sort}"),
        _ => format!("a {sort}"),
    }
}

#[rustfmt::skip]
pub static CONCEPTS: &[Concept] = &[
    concept("garage", "a garage", &["garage", "car garage", "parking garage"], &[]),
    concept("parking", "parking", &["parking", "parking space", "parking spot"], &["valet parking"]),
    concept("pool", "a pool", &["pool", "swimming pool"], &["infinity pool", "lap pool", "plunge pool", "heated pool", "indoor pool", "saltwater pool"]),
    concept("wine_cellar", "a wine cellar", &["wine cellar", "wine room", "wine cave", "wine storage"], &[]),
    concept("gym", "a gym", &["gym", "home gym", "fitness center", "fitness centre", "fitness room", "fitness studio"], &[]),
    concept("guest_house", "a guest house", &["guest house", "guesthouse", "guest cottage", "casita"], &[]),
    concept("staff_quarters", "staff quarters", &["staff quarter", "staff apartment", "staff housing", "staff accommodation", "housekeeper quarter"], &[]),
    concept("elevator", "an elevator", &["elevator", "private lift", "passenger lift"], &[]),
    concept("tennis", "a tennis court", &["tennis court", "tennis"], &[]),
    concept("dock", "a dock", &["dock", "boat dock", "private dock", "deep water dock", "boat slip", "mooring"], &["boathouse", "boat house"]),
    concept("helipad", "a helipad", &["helipad", "heliport", "helicopter pad", "helicopter landing"], &[]),
    concept("gated", "a gated entry", &["gated", "gated community", "gated entry", "gated estate", "security gate", "private gate"], &[]),
    concept("security", "security", &["security", "security system", "24 hour security", "guardhouse", "guard house"], &["panic room", "safe room"]),
    concept("home_theater", "a home theater", &["home theater", "home theatre", "home cinema", "screening room", "media room", "cinema room"], &[]),
    concept("spa", "a spa", &["spa", "wellness suite", "wellness center", "wellness centre"], &["sauna", "steam room", "hammam", "hot tub", "jacuzzi"]),
    concept("smart_home", "smart-home systems", &["smart home", "home automation", "crestron", "control4", "lutron"], &[]),
    concept("equestrian", "equestrian facilities", &["equestrian", "equestrian facilities", "horse facilities"], &["stable", "horse barn", "paddock", "riding arena"]),
    concept("vineyard", "a vineyard", &["vineyard"], &[]),
    concept("rooftop", "a roof terrace", &["rooftop", "roof terrace", "roof deck", "roof garden"], &[]),
    concept("terrace", "outdoor terraces", &["terrace", "balcony", "loggia", "patio"], &[]),
    concept("garden", "a garden", &["garden", "landscaped ground", "lawn"], &["orchard", "meditation garden", "rose garden", "kitchen garden"]),
    concept("doorman", "a doorman", &["doorman", "concierge", "porter", "white glove service"], &[]),
    concept("fireplace", "a fireplace", &["fireplace"], &[]),
    concept("library", "a library", &["library"], &[]),
    concept("office", "a home office", &["home office", "study"], &[]),
    concept("waterfront", "water frontage", &["waterfront", "water frontage", "on the water"], &["oceanfront", "ocean front", "lakefront", "lake front", "beachfront", "beach front", "bayfront", "harbourfront", "harborfront"]),
    concept("beach", "beach access", &["beach access", "private beach", "beachfront", "beach front", "on the beach", "steps to the beach", "sandy beach", "direct beach"], &[]),
    concept("ocean_view", "ocean views", &["ocean view", "sea view", "view of the ocean", "view of the sea", "view over the ocean", "open to the ocean", "overlooking the ocean", "overlooking the sea", "ocean vista", "pacific view", "view of the pacific", "oceanfront", "ocean front", "sea vista", "ocean panorama", "whitewater view", "view of the atlantic", "view of the mediterranean", "mediterranean view", "caribbean view"], &[]),
    concept("mountain_view", "mountain views", &["mountain view", "view of the mountain", "alpine view", "overlooking the mountain", "mountain vista", "view of the peak", "view of the alp", "view of the range"], &[]),
    concept("city_view", "city views", &["city view", "skyline view", "view of the skyline", "city light", "skyline", "view of the city"], &["park view", "central park view", "view of central park"]),
    concept("lake_view", "lake views", &["lake view", "view of the lake", "overlooking the lake", "lakefront", "lake front"], &[]),
    concept("golf", "golf course frontage", &["golf course", "golf", "fairway", "on the course"], &["country club"]),
    concept("ski", "ski-in ski-out access", &["ski in ski out", "ski in", "ski out", "slopeside", "slope side", "on the slope", "ski run"], &[]),
    concept("privacy", "privacy", &["privacy", "private", "secluded", "seclusion", "enclave"], &[]),
    concept("new_construction", "new construction", &["new construction", "newly built", "new build", "brand new", "newly constructed", "just completed", "new development"], &[]),
    concept("historic", "historic character", &["historic", "heritage", "landmark", "listed building", "period home", "period property"], &[]),
    burden("hoa", "a homeowners' association", &["hoa", "homeowners association", "homeowner association", "home owners association", "owners association", "association fee", "hoa fee", "condo fee"]),
    burden("public_road", "public road frontage", &["public road", "road frontage", "street frontage", "front the road", "fronting the road", "fronts the road", "on the road", "roadside", "public street"]),
    burden("busy_road", "a busy road", &["busy road", "main road", "busy street", "highway", "hwy", "pch", "pacific coast highway", "traffic", "arterial", "road noise", "thoroughfare", "freeway", "motorway"]),
    burden("flight_path", "a flight path", &["flight path", "airport", "aircraft noise", "jet noise", "airplane noise", "under the flight", "plane noise"]),
    burden("power_lines", "power lines", &["power line", "pylon", "transmission line", "high voltage"]),
    burden("flood_zone", "a flood zone", &["flood zone", "flood plain", "floodplain", "flood risk", "flooding"]),
    burden("shared_walls", "shared walls", &["shared wall", "party wall", "attached", "semi detached", "common wall"]),
    burden("renovation_needed", "needed renovation", &["fixer", "fixer upper", "needs work", "needs renovation", "renovation required", "in need of renovation", "tlc", "original condition"]),
    burden("construction_nearby", "construction nearby", &["construction nearby", "construction site", "building site", "neighboring construction", "ongoing construction"]),
    burden("public_access", "public access", &["public access", "public beach", "public path", "public footpath", "right of way"]),
];

/// A concept's synonyms and sorts as words, read once.
pub struct Patterns {
    pub synonyms: Vec<Vec<String>>,
    pub sorts: Vec<Vec<String>>,
}

/// [`Patterns`] of every concept, by its index in [`CONCEPTS`].
pub fn patterns() -> &'static [Patterns] {
    static READ: OnceLock<Vec<Patterns>> = OnceLock::new();
    READ.get_or_init(|| {
        let read = |phrases: &[&str]| phrases.iter().map(|p| tokens(p)).collect();
        CONCEPTS
            .iter()
            .map(|c| Patterns {
                synonyms: read(c.synonyms),
                sorts: read(c.sorts),
            })
            .collect()
    })
}

/// Road names a listing may front: "on Broad Beach Road". Checked apart from the phrases above,
/// as "on" or "facing" a name ending with one of these.
pub const ROAD_SUFFIXES: &[&str] = &[
    "road",
    "rd",
    "highway",
    "hwy",
    "boulevard",
    "blvd",
    "avenue",
    "ave",
    "street",
    "st",
];

/// Words before a road name that put the listing on it.
pub const ON_A_ROAD: &[&str] = &["on", "along", "facing", "fronting", "front", "onto", "off"];
