//! Persona-aware replies for every structured reply Troupe asks for, chosen by the JSON schema's
//! name. Each reads the persona's wants, deal-breakers, budget and preferred channel, and the
//! stimulus, from the tagged sections of Troupe's prompt, so answers differ by persona the way a
//! model's would, and tests can predict their direction.

use serde_json::{Value, json};

/// `typed` is the schema of a typed question's answer, when the reply must carry one.
pub fn reply(schema: Option<&str>, typed: Option<&Value>, prompt: &str) -> Value {
    let persona = Persona::read(section(prompt, "persona"));
    match schema {
        Some("engagement_reply") => engagement(&persona, section(prompt, "material")),
        Some("touch_reply") => touch(&persona, section(prompt, "outreach")),
        Some("scenario_reply") => scenario(&persona, section(prompt, "scenario")),
        Some("persona_sketch") => sketch(&persona, prompt),
        Some("match_rerank") => match_fit(&persona, section(prompt, "listing")),
        Some("message_rewrite") => rewrite(prompt),
        _ => {
            let mut reply = listing(&persona, prompt);
            if let Some(typed) = typed {
                reply["typed_answer"] = typed_answer(&persona, typed, &reply, prompt);
            }
            reply
        }
    }
}

struct Persona<'a> {
    name: &'a str,
    wants: Vec<&'a str>,
    breakers: Vec<&'a str>,
    budget_max: Option<f64>,
    temperament: &'a str,
}

impl<'a> Persona<'a> {
    fn read(text: &'a str) -> Self {
        Persona {
            name: text
                .lines()
                .find_map(|l| l.strip_prefix("Name: "))
                .unwrap_or("a buyer"),
            wants: list_after(text, "Wants:"),
            breakers: list_after(text, "Deal-breakers:"),
            budget_max: text
                .lines()
                .find_map(|l| l.strip_prefix("Budget:"))
                .and_then(|b| b.split(" to ").nth(1))
                .and_then(parse_amount),
            temperament: text
                .lines()
                .find_map(|l| l.strip_prefix("Temperament:"))
                .unwrap_or(""),
        }
    }

    /// (wants the text mentions, deal-breakers it mentions)
    fn fit(&self, text: &str) -> (Vec<&'a str>, Vec<&'a str>) {
        let lower = text.to_lowercase();
        let mentioned = |items: &[&'a str]| -> Vec<&'a str> {
            items
                .iter()
                .copied()
                .filter(|i| lower.contains(&i.to_lowercase()))
                .collect()
        };
        (mentioned(&self.wants), mentioned(&self.breakers))
    }

    fn want_share(&self, liked: usize) -> f64 {
        if self.wants.is_empty() {
            0.5
        } else {
            liked as f64 / self.wants.len() as f64
        }
    }

    /// (wants, deal-breakers) sharing a word of four letters or more with `text`.
    fn fit_words(&self, text: &str) -> (usize, usize) {
        let lower = text.to_lowercase();
        let touches = |item: &&&str| {
            item.to_lowercase()
                .split_whitespace()
                .any(|w| w.len() > 3 && lower.contains(w))
        };
        (
            self.wants.iter().filter(touches).count(),
            self.breakers.iter().filter(touches).count(),
        )
    }

    /// Whether the persona's stated channel preference names this channel.
    fn prefers(&self, channel: &str) -> Option<bool> {
        let preference = self
            .temperament
            .split(';')
            .find_map(|t| t.trim().strip_prefix("prefers "))?;
        Some(
            preference
                .to_lowercase()
                .contains(&channel.replace('_', " ")),
        )
    }
}

fn listing(p: &Persona<'_>, prompt: &str) -> Value {
    let listing = section(prompt, "listing");
    let (likes, breakers) = p.fit(listing);
    let mut dislikes: Vec<String> = breakers.iter().map(|b| b.to_string()).collect();
    let mut score = 2.0 + 3.0 * p.want_share(likes.len()) - 2.0 * dislikes.len() as f64;
    let price = amount_after(listing, "Price:");
    if let (Some(price), Some(max)) = (price, p.budget_max)
        && price > max
    {
        score -= 10.0 * (price / max - 1.0);
        dislikes.push("over budget".to_owned());
    }
    let ask = prompt.rsplit("Moderator:").next().unwrap_or("");
    if let Some(change) = ask
        .split("made this change: \"")
        .nth(1)
        .and_then(|c| c.split('"').next())
    {
        let (gains, losses) = p.fit_words(change);
        score += (gains.min(2) as f64) - (losses.min(2) as f64);
    }
    if let Some(mean) = section(prompt, "discussion")
        .split("mean intent ")
        .nth(1)
        .and_then(|m| m.split_whitespace().next())
        .and_then(|m| m.parse::<f64>().ok())
    {
        score += 0.3 * (mean - score.clamp(1.0, 5.0));
    }
    // A consistent model: no top intent over budget, no bid above the budget's ceiling.
    let over_budget = matches!((price, p.budget_max), (Some(price), Some(max)) if price > max);
    let intent = score
        .round()
        .clamp(1.0, if over_budget { 4.0 } else { 5.0 });
    let photo_appeal: Vec<Value> = if ask.contains("Also rate photos") {
        listing
            .lines()
            .filter_map(|l| l.strip_prefix("Photo "))
            .filter_map(|l| l.split_once(": "))
            .filter_map(|(n, desc)| {
                let (liked, hated) = p.fit(desc);
                let appeal =
                    3 + 2 * i64::from(!liked.is_empty()) - 2 * i64::from(!hated.is_empty());
                Some(json!({ "photo": n.parse::<u32>().ok()?, "appeal": appeal }))
            })
            .collect()
    } else {
        Vec::new()
    };
    let verdict = match intent as u8 {
        5 => "I love it and would make an offer right away.",
        4 => "This is a serious contender; I would likely make an offer.",
        3 => "I could be persuaded, but I am not sold.",
        2 => "I doubt I would pursue this one.",
        _ => "I would never buy this property.",
    };
    json!({
        "answer": format!("Speaking as {}: {verdict}{}", p.name,
            if dislikes.is_empty() { String::new() } else { format!(" Drawbacks: {}.", dislikes.join(", ")) }),
        "purchase_intent": intent,
        "purchase_probability": ((intent - 1.0) / 4.0 * 0.9),
        "willingness_to_pay": price.filter(|_| intent >= 3.0).map(|price| {
            let bid = price * (0.8 + 0.05 * intent);
            p.budget_max.map_or(bid, |max| bid.min(max))
        }),
        "likes": likes,
        "dislikes": dislikes,
        "photo_appeal": photo_appeal,
    })
}

/// An answer of the shape `schema` asks for, following the persona's judgement in `reply`:
/// options scored by the wants and deal-breakers they touch (ties to the one the prompt shows
/// first, a model's position bias), yes from intent, prices from willingness to pay.
fn typed_answer(p: &Persona<'_>, schema: &Value, reply: &Value, prompt: &str) -> Value {
    let ask = prompt.rsplit("Moderator:").next().unwrap_or("");
    let intent = reply["purchase_intent"].as_f64().unwrap_or(3.0);
    let options = |enumeration: &Value| -> Vec<String> {
        let mut options: Vec<String> = enumeration
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let shown_at = |o: &String| ask.find(&format!("\"{o}\"")).unwrap_or(usize::MAX);
        options.sort_by_key(shown_at);
        let score = |o: &String| {
            let (gains, losses) = p.fit_words(o);
            gains as i64 - 2 * losses as i64
        };
        // Stable: equal scores keep the order shown.
        options.sort_by_key(|o| std::cmp::Reverse(score(o)));
        options
    };
    match schema["type"].as_str() {
        Some("integer") => json!(intent),
        Some("boolean") => json!(intent >= 3.0),
        Some("number") => {
            let price = amount_after(section(prompt, "listing"), "Price:").unwrap_or(1e6);
            let offer = reply["willingness_to_pay"].as_f64().unwrap_or(price * 0.7);
            json!(p.budget_max.map_or(offer, |max| offer.min(max)).round())
        }
        Some("array") => {
            let ranked = options(&schema["items"]["enum"]);
            if ask.contains("best first") {
                json!(ranked)
            } else {
                let wanted: Vec<&String> = ranked
                    .iter()
                    .filter(|o| p.fit_words(o).0 > p.fit_words(o).1)
                    .collect();
                match wanted.is_empty() {
                    true => json!(ranked.first().into_iter().collect::<Vec<_>>()),
                    false => json!(wanted),
                }
            }
        }
        _ if schema.get("enum").is_some() => json!(options(&schema["enum"]).first()),
        _ => {
            let listing = section(prompt, "listing").to_lowercase();
            let missing = p
                .wants
                .iter()
                .find(|w| !listing.contains(&w.to_lowercase()));
            json!(
                match (reply["dislikes"].get(0).and_then(Value::as_str), missing) {
                    (Some(drawback), _) => format!("Deal with the {drawback}."),
                    (None, Some(want)) => format!("It would need {want}."),
                    (None, None) => "Nothing: it has what I want.".to_owned(),
                }
            )
        }
    }
}

/// Turns a listing reply into one that contradicts itself (the `contradiction` fault): top
/// intent while naming the persona's first deal-breaker, and a price well above its budget.
/// Raises the appeal of the photo the prompt lists first by `bias` points (at most 5).
pub fn favour_first_photo(reply: &mut Value, prompt: &str, bias: u8) {
    if bias == 0 {
        return;
    }
    let first = section(prompt, "listing")
        .lines()
        .filter_map(|l| l.strip_prefix("Photo "))
        .filter_map(|l| l.split_once(": "))
        .find_map(|(n, _)| n.parse::<u64>().ok());
    let Some(rated) = reply["photo_appeal"].as_array_mut() else {
        return;
    };
    for rating in rated.iter_mut().filter(|r| r["photo"].as_u64() == first) {
        let appeal = rating["appeal"].as_u64().unwrap_or(3) + u64::from(bias);
        rating["appeal"] = appeal.min(5).into();
    }
}

pub fn contradict(reply: &mut Value, prompt: &str) {
    if reply.get("purchase_intent").is_none() {
        return;
    }
    let p = Persona::read(section(prompt, "persona"));
    reply["purchase_intent"] = json!(5);
    reply["answer"] = json!("I love it and would buy it today.");
    if let Some(breaker) = p.breakers.first() {
        reply["dislikes"] = json!([breaker]);
    }
    if let Some(max) = p.budget_max {
        reply["willingness_to_pay"] = json!(max * 1.5);
    }
}

/// A copywriter's rewrite: the subject leads with the first want the panel section names.
fn rewrite(prompt: &str) -> Value {
    let panel = section(prompt, "panel");
    let want = list_after(panel, "What this panel wants most:")
        .first()
        .map(|w| w.to_string())
        .unwrap_or_else(|| "privacy".to_owned());
    let subject = section(prompt, "material")
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("A new listing");
    json!({
        "subject": format!("{want}, and more: {subject}"),
        "opening_line": format!("Because {want} matters to you, you are the first to hear of this."),
    })
}

fn engagement(p: &Persona<'_>, material: &str) -> Value {
    let channel = material
        .lines()
        .find_map(|l| l.strip_prefix("Channel: "))
        .unwrap_or("email");
    let by_channel = match p.prefers(channel) {
        Some(true) => 1.0,
        Some(false) => 0.3,
        None => 0.6,
    };
    let (likes, breakers) = p.fit(material);
    let relevance = p.want_share(likes.len());
    let mut objections: Vec<String> = breakers.iter().map(|b| b.to_string()).collect();
    if by_channel < 0.5 {
        objections.push(format!("I do not like being contacted by {channel}"));
    }
    json!({
        "answer": if likes.is_empty() { "Not for me.".to_owned() } else { format!("The {} interests me.", likes.join(", ")) },
        "open_probability": 0.2 + 0.6 * by_channel,
        "click_probability": (0.1 + 0.6 * relevance - 0.2 * breakers.len() as f64).clamp(0.0, 1.0),
        "reply_probability": (0.05 + 0.4 * relevance * by_channel).clamp(0.0, 1.0),
        "sentiment": (relevance - 0.3 - 0.4 * breakers.len() as f64).clamp(-1.0, 1.0),
        "objections": objections,
    })
}

fn touch(p: &Persona<'_>, outreach: &str) -> Value {
    let number = |label: &str| {
        outreach.split(label).nth(1).and_then(|rest| {
            rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .find(|s| !s.is_empty())?
                .parse::<f64>()
                .ok()
        })
    };
    let channel = outreach
        .split(" by ")
        .nth(1)
        .and_then(|r| r.lines().next())
        .unwrap_or("email");
    let (likes, breakers) = p.fit(outreach);
    let relevance = p.want_share(likes.len());
    let gap = number("Days since the previous contact: ");
    let pressure = gap.map_or(0.0, |g| {
        if g <= 1.0 {
            0.35
        } else if g <= 3.0 {
            0.15
        } else {
            0.0
        }
    });
    let annoyance =
        (number("annoyance ").unwrap_or(0.0) * 0.8 + pressure + 0.15 * breakers.len() as f64)
            .min(1.0);
    let interest =
        (number("interest ").unwrap_or(0.3) + 0.2 * relevance - 0.1 * annoyance).clamp(0.0, 1.0);
    let by_channel = if p.prefers(channel) == Some(false) {
        0.4
    } else {
        1.0
    };
    json!({
        "answer": if annoyance > 0.4 { "Too many messages." } else { "Thanks, noted." },
        "response_probability": (interest * by_channel * (1.0 - annoyance)).clamp(0.0, 1.0),
        "sentiment": (interest - annoyance).clamp(-1.0, 1.0),
        "interest": interest,
        "annoyance": annoyance,
    })
}

fn scenario(p: &Persona<'_>, scenario: &str) -> Value {
    let (likes, breakers) = p.fit(scenario);
    let interest = (2.0 + 3.0 * p.want_share(likes.len()) - 2.0 * breakers.len() as f64)
        .round()
        .clamp(1.0, 5.0);
    let questions: Vec<String> = p
        .wants
        .iter()
        .filter(|w| !likes.contains(w))
        .take(2)
        .map(|w| format!("Is there a {w}?"))
        .collect();
    json!({
        "answer": if interest >= 4.0 { "I am interested and would like to take the next step." }
                  else if interest >= 3.0 { "Perhaps; send me more details." }
                  else { "I am not interested." },
        "interest": interest,
        "likely_next_step": if interest >= 4.0 { "book a second viewing" } else if interest >= 3.0 { "ask for details" } else { "decline" },
        "positive_outcome_probability": (interest - 1.0) / 4.0,
        "sentiment": (interest - 3.0) / 2.0,
        "objections": breakers,
        "questions": questions,
    })
}

/// A broker's judgement of a listing for this client: more of their wants fit better, a
/// deal-breaker much worse; the outreach goes through the channel they prefer.
fn match_fit(p: &Persona<'_>, listing: &str) -> Value {
    let (likes, breakers) = p.fit(listing);
    let fit = (1.0 + 4.0 * p.want_share(likes.len()) - 2.0 * breakers.len() as f64).clamp(1.0, 5.0);
    let channel = p
        .temperament
        .split(';')
        .find_map(|t| t.trim().strip_prefix("prefers "))
        .unwrap_or("email");
    let first = p.name.split_whitespace().next().unwrap_or("Hello");
    json!({
        "fit": fit.round(),
        "explanation": format!("{} would value its {}.", p.name, if likes.is_empty() { "setting".to_owned() } else { likes.join(" and ") }),
        "highlights": likes,
        "outreach": {
            "channel": channel,
            "timing": "this week",
            "opening_line": format!("{first}, a home with what you asked for just came in."),
        },
    })
}

fn sketch(p: &Persona<'_>, prompt: &str) -> Value {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    prompt.hash(&mut hasher);
    let code = hasher.finish() % 10_000;
    json!({
        "name": format!("Synthetic Client {code:04}"),
        "biography": format!("Drafted from {}; wants {}.", p.name, p.wants.join(", ")),
        "interests": ["art collecting"],
    })
}

/// The body of the last `<tag>…</tag>` (the system prompt names the tags before they are used).
fn section<'a>(prompt: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    prompt
        .rfind(&open)
        .and_then(|start| {
            let body = &prompt[start + open.len()..];
            body.find(&close).map(|end| &body[..end])
        })
        .unwrap_or("")
}
fn list_after<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|rest| {
            rest.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn amount_after(text: &str, label: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(parse_amount)
}

fn parse_amount(text: &str) -> Option<f64> {
    let digits: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

/// A 64-dimensional unit vector: each lower-cased word adds to the dimension its hash picks.
pub fn embedding(text: &str) -> Vec<f32> {
    use std::hash::{Hash, Hasher};
    let mut vector = vec![0f32; 64];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        word.to_lowercase().hash(&mut hasher);
        vector[(hasher.finish() % 64) as usize] += 1.0;
    }
    let norm = vector
        .iter()
        .map(|v| v * v)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    vector.iter().map(|v| v / norm).collect()
}
