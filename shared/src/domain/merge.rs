//! Two records of one client made one: what the kept record already says stands, what only the
//! other knew is added, and nothing either learned is lost.

use super::PersonaProfile;

/// Appends the items of `other` that `kept` does not hold yet.
fn union<T: PartialEq>(kept: &mut Vec<T>, other: Vec<T>) {
    for item in other {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
}

/// Appends the words of `other` that `kept` does not hold yet, in any case.
fn union_words(kept: &mut Vec<String>, other: Vec<String>) {
    for word in other {
        if !kept.iter().any(|k| k.eq_ignore_ascii_case(&word)) {
            kept.push(word);
        }
    }
}

/// `kept` unless it is unset.
fn fill<T>(kept: &mut Option<T>, other: Option<T>) {
    if kept.is_none() {
        *kept = other;
    }
}

impl PersonaProfile {
    /// Folds `other` (a second record of the same client) into this one. Where both say
    /// something, this record's word stands; lists take the union; histories and sources are
    /// joined. Two different ids in one outside system cannot both stand: refused, naming it.
    pub fn absorb(&mut self, other: PersonaProfile) -> Result<(), String> {
        for (system, id) in &other.external_ids {
            if let Some(kept) = self.external_ids.get(system)
                && kept != id
            {
                return Err(format!(
                    "both records hold a {system} id ({kept:?} and {id:?}): one client has one \
                     record there, so merge them in {system} first or remove one id"
                ));
            }
        }
        self.external_ids.extend(other.external_ids);
        if self.name.trim().is_empty() {
            self.name = other.name;
        }
        fill(&mut self.segment, other.segment);
        fill(&mut self.biography, other.biography);
        let (d, o) = (&mut self.demographics, other.demographics);
        fill(&mut d.age_range, o.age_range);
        fill(&mut d.occupation, o.occupation);
        fill(&mut d.net_worth_range, o.net_worth_range);
        match (&mut d.location, o.location) {
            (Some(kept), Some(other)) => {
                fill(&mut kept.city, other.city);
                fill(&mut kept.region, other.region);
                fill(&mut kept.country, other.country);
            }
            (kept @ None, other) => *kept = other,
            (Some(_), None) => {}
        }
        let (p, o) = (&mut self.preferences, other.preferences);
        union_words(&mut p.property_types, o.property_types);
        union_words(&mut p.locations, o.locations);
        union_words(&mut p.features, o.features);
        union_words(&mut p.deal_breakers, o.deal_breakers);
        fill(&mut p.budget, o.budget);
        for strength in o.strengths {
            let held = p.strengths.iter().any(|s| {
                s.category == strength.category && s.value.eq_ignore_ascii_case(&strength.value)
            });
            if !held {
                p.strengths.push(strength);
            }
        }
        let (t, o) = (&mut self.personality_traits, other.personality_traits);
        fill(&mut t.openness, o.openness);
        fill(&mut t.decision_style, o.decision_style);
        fill(&mut t.communication_preference, o.communication_preference);
        let (g, o) = (&mut self.knowledge_graph, other.knowledge_graph);
        union(&mut g.relationships, o.relationships);
        union_words(&mut g.interests, o.interests);
        union(&mut g.past_properties, o.past_properties);
        union(&mut self.life_events, other.life_events);
        union(&mut self.interaction_history, other.interaction_history);
        union(&mut self.enrichment_sources, other.enrichment_sources);
        fill(&mut self.contact.email, other.contact.email);
        fill(&mut self.contact.phone, other.contact.phone);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn profile(value: serde_json::Value) -> PersonaProfile {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_kept_record_stands_and_the_other_fills_and_adds() {
        let mut kept = profile(json!({
            "name": "Harrison Vale",
            "demographics": { "occupation": "Investor", "location": { "city": "Malibu" } },
            "preferences": { "features": ["wine cellar"], "budget": { "max": 40000000.0 } },
            "external_ids": { "hubspot": "51" },
            "contact": { "email": "h@vale.example" }
        }));
        let other = profile(json!({
            "name": "H. Vale",
            "biography": "Sold his fund in 2026.",
            "demographics": { "occupation": "Fund manager", "location": { "city": "Aspen", "region": "CO" } },
            "preferences": { "features": ["Wine Cellar", "ocean views"], "budget": { "max": 30000000.0 } },
            "interaction_history": [{ "summary": "Called about Broad Beach" }],
            "external_ids": { "salesforce": "003A" },
            "contact": { "email": "other@vale.example", "phone": "+1 310 555 0100" }
        }));
        kept.absorb(other).unwrap();
        assert_eq!(kept.name, "Harrison Vale");
        assert_eq!(kept.biography.as_deref(), Some("Sold his fund in 2026."));
        assert_eq!(kept.demographics.occupation.as_deref(), Some("Investor"));
        let location = kept.demographics.location.as_ref().unwrap();
        assert_eq!(
            (location.city.as_deref(), location.region.as_deref()),
            (Some("Malibu"), Some("CO"))
        );
        assert_eq!(kept.preferences.features, ["wine cellar", "ocean views"]);
        assert_eq!(kept.preferences.budget.as_ref().unwrap().max, Some(40e6));
        assert_eq!(kept.interaction_history.len(), 1);
        assert_eq!(kept.external_ids.len(), 2);
        assert_eq!(kept.contact.email.as_deref(), Some("h@vale.example"));
        assert_eq!(kept.contact.phone.as_deref(), Some("+1 310 555 0100"));
    }

    #[test]
    fn two_ids_in_one_system_are_refused() {
        let mut kept = profile(json!({ "name": "A", "external_ids": { "hubspot": "51" } }));
        let other = profile(json!({ "name": "B", "external_ids": { "hubspot": "52" } }));
        let refused = kept.absorb(other).unwrap_err();
        assert!(
            refused.contains("both records hold a hubspot id"),
            "{refused}"
        );
    }
}
