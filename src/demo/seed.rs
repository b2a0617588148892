//! The demo's brokerage: a dozen UHNW personas in three segments and one Malibu listing.

use serde_json::{Value, json};

#[allow(clippy::too_many_arguments)]
fn persona(
    name: &str,
    segment: &str,
    age: &str,
    occupation: &str,
    net_worth: &str,
    city: &str,
    features: &[&str],
    deal_breakers: &[&str],
    budget_max: f64,
    openness: f64,
    decision_style: &str,
    interests: &[&str],
) -> Value {
    json!({
        "name": name,
        "segment": segment,
        "visibility": "brokerage",
        "demographics": {
            "age_range": age, "occupation": occupation, "net_worth_range": net_worth,
            "location": { "city": city, "country": "USA" }
        },
        "preferences": {
            "property_types": ["single-family estate"],
            "locations": ["Malibu", "Los Angeles"],
            "features": features,
            "deal_breakers": deal_breakers,
            "budget": { "min": budget_max * 0.5, "max": budget_max }
        },
        "personality_traits": {
            "openness": openness, "decision_style": decision_style,
            "communication_preference": "short calls, then detailed email"
        },
        "knowledge_graph": { "interests": interests, "relationships": [], "past_properties": [] }
    })
}

pub fn personas() -> Vec<Value> {
    vec![
        persona("Harrison Vale", "finance_executives", "55-60", "Private equity founder", "$400M-$600M", "New York",
            &["wine cellar", "ocean views", "home office", "guest house"], &["shared driveway"], 45e6, 0.3, "deliberate, data-driven", &["wine collecting", "sailing"]),
        persona("Catherine Wexler", "finance_executives", "48-52", "Hedge fund CIO", "$250M-$350M", "Greenwich",
            &["privacy", "wine cellar", "staff quarters", "home office"], &["flood zone"], 40e6, 0.4, "fast once convinced", &["art collecting", "wine"]),
        persona("Marcus Oyelaran", "finance_executives", "42-46", "Investment bank partner", "$80M-$120M", "San Francisco",
            &["ocean views", "home gym", "infinity pool"], &["major renovation"], 32e6, 0.5, "consults spouse and advisor", &["triathlon", "wine"]),
        persona("Eleanor Brandt", "finance_executives", "60-65", "Family office principal", "$1B+", "Palm Beach",
            &["private beach access", "guest house", "staff quarters", "wine cellar"], &["street noise"], 60e6, 0.2, "slow, relationship-led", &["philanthropy", "wine collecting"]),
        persona("Priya Raman", "tech_founders", "36-40", "AI startup founder (post-IPO)", "$300M-$500M", "Palo Alto",
            &["smart home automation", "home gym", "solar", "ev charging"], &["dated interiors"], 50e6, 0.9, "fast, intuition plus spreadsheet", &["longevity", "robotics"]),
        persona("Daniel Kwon", "tech_founders", "40-44", "SaaS founder", "$150M-$200M", "Seattle",
            &["home office", "smart home automation", "ocean views"], &["hoa restrictions"], 35e6, 0.7, "analytical", &["surfing", "podcasts"]),
        persona("Sofia Marchetti", "tech_founders", "33-37", "Crypto exchange co-founder", "$200M-$300M", "Miami",
            &["infinity pool", "home gym", "guest house", "smart home automation"], &["long escrow"], 45e6, 0.8, "impulsive", &["fitness", "electronic music"]),
        persona("Jonah Feld", "tech_founders", "45-50", "Chip designer, angel investor", "$100M-$150M", "Los Altos",
            &["home gym", "workshop", "solar"], &["beachfront erosion risk"], 30e6, 0.6, "methodical", &["woodworking", "cycling"]),
        persona("Ava Laurent", "entertainment", "38-42", "Film actor and producer", "$80M-$120M", "Los Angeles",
            &["privacy", "screening room", "guest house", "infinity pool"], &["visible from the road"], 42e6, 0.7, "instinct, then manager sign-off", &["film", "yoga"]),
        persona("Theo Banks", "entertainment", "30-34", "Recording artist", "$60M-$90M", "Atlanta",
            &["recording studio", "screening room", "infinity pool"], &["strict hoa"], 40e6, 0.8, "fast, emotional", &["music production", "film"]),
        persona("Marguerite Ellis", "entertainment", "50-55", "Television showrunner", "$40M-$60M", "Santa Monica",
            &["ocean views", "guest house", "home office", "screening room"], &["shared driveway"], 30e6, 0.5, "careful, compares many homes", &["film", "gardening"]),
        persona("Rafael Ortiz", "entertainment", "44-48", "Professional athlete turned investor", "$120M-$180M", "Miami",
            &["home gym", "infinity pool", "private beach access"], &["small lot"], 48e6, 0.6, "trusts a close circle", &["fitness", "film"]),
    ]
}

pub fn listing() -> Value {
    json!({
        "title": "Carbon Beach Modern, Malibu",
        "description": "A glass-and-limestone residence on Billionaire's Beach with 120 feet of frontage, \
            6 bedrooms, a cantilevered great room and a separate two-bedroom guest house.",
        "price": 38500000,
        "currency": "USD",
        "location": { "city": "Malibu", "region": "California", "country": "USA" },
        "property_type": "single-family estate",
        "features": ["ocean views", "infinity pool", "private beach access", "home gym",
                     "smart home automation", "guest house", "home office"],
        "photos": [
            { "url": "https://example.com/carbon-beach/01-facade.jpg", "description": "Street facade behind a tall hedge and gated motor court" },
            { "url": "https://example.com/carbon-beach/02-great-room.jpg", "description": "Double-height great room opening fully to the ocean views" },
            { "url": "https://example.com/carbon-beach/03-pool.jpg", "description": "Infinity pool at dusk above the private beach access stairs" },
            { "url": "https://example.com/carbon-beach/04-gym.jpg", "description": "Home gym with Pacific views and a cold plunge" }
        ],
        "candidate_modifications": [
            "Add a glass-walled wine cellar off the great room",
            "Convert the guest house into a screening room"
        ]
    })
}
