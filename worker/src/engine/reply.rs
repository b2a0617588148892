//! The structured replies agent steps must produce: one JSON schema per task (OpenAI strict
//! structured output), and parsing that checks, clamps and tolerates prose or code fences
//! around the object.

use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use troupe_shared::domain::{
    EngagementJudgement, Judgement, ListingJudgement, PhotoAppeal, ScenarioJudgement,
    TouchJudgement,
};

use super::{
    prompt::Task,
    ssr::{self, Scale},
};

pub struct StepAnswer {
    pub answer: String,
    pub judgement: Judgement,
}

const MAX_ITEMS: usize = 20;

pub fn schema(task: Task) -> Value {
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    let unit = json!({ "type": "number", "minimum": 0, "maximum": 1 });
    let sentiment = json!({ "type": "number", "minimum": -1, "maximum": 1 });
    let likert = json!({ "type": "integer", "minimum": 1, "maximum": 5 });
    let (required, properties): (&[&str], Value) = match task {
        Task::Listing => (
            &[
                "answer",
                "purchase_intent",
                "purchase_probability",
                "willingness_to_pay",
                "likes",
                "dislikes",
                "photo_appeal",
            ],
            json!({
                "purchase_intent": likert, "purchase_probability": unit,
                "willingness_to_pay": { "type": ["number", "null"] },
                "likes": strings, "dislikes": strings,
                "photo_appeal": { "type": "array", "items": {
                    "type": "object", "additionalProperties": false, "required": ["photo", "appeal"],
                    "properties": { "photo": { "type": "integer" }, "appeal": likert } } }
            }),
        ),
        Task::Engagement => (
            &[
                "answer",
                "open_probability",
                "click_probability",
                "reply_probability",
                "sentiment",
                "objections",
            ],
            json!({ "open_probability": unit, "click_probability": unit, "reply_probability": unit,
                    "sentiment": sentiment, "objections": strings }),
        ),
        Task::Touch => (
            &[
                "answer",
                "response_probability",
                "sentiment",
                "interest",
                "annoyance",
            ],
            json!({ "response_probability": unit, "sentiment": sentiment, "interest": unit, "annoyance": unit }),
        ),
        Task::Scenario => (
            &[
                "answer",
                "interest",
                "likely_next_step",
                "positive_outcome_probability",
                "sentiment",
                "objections",
                "questions",
            ],
            json!({ "interest": likert, "likely_next_step": { "type": "string" },
                    "positive_outcome_probability": unit, "sentiment": sentiment,
                    "objections": strings, "questions": strings }),
        ),
    };
    let mut properties = properties;
    properties["answer"] = json!({ "type": "string" });
    json!({ "type": "object", "additionalProperties": false, "required": required, "properties": properties })
}

#[derive(Deserialize)]
struct ListingReply {
    answer: String,
    purchase_intent: f64,
    purchase_probability: f64,
    willingness_to_pay: Option<f64>,
    #[serde(default)]
    likes: Vec<String>,
    #[serde(default)]
    dislikes: Vec<String>,
    #[serde(default)]
    photo_appeal: Vec<RawAppeal>,
}

#[derive(Deserialize)]
struct RawAppeal {
    photo: f64,
    appeal: f64,
}

#[derive(Deserialize)]
struct EngagementReply {
    answer: String,
    open_probability: f64,
    click_probability: f64,
    reply_probability: f64,
    sentiment: f64,
    #[serde(default)]
    objections: Vec<String>,
}

#[derive(Deserialize)]
struct TouchReply {
    answer: String,
    response_probability: f64,
    sentiment: f64,
    interest: f64,
    annoyance: f64,
}

#[derive(Deserialize)]
struct ScenarioReply {
    answer: String,
    interest: f64,
    #[serde(default)]
    likely_next_step: String,
    positive_outcome_probability: f64,
    sentiment: f64,
    #[serde(default)]
    objections: Vec<String>,
    #[serde(default)]
    questions: Vec<String>,
}

/// Parses a reply for `task`; `photos` is how many photos could be rated.
pub fn parse(task: Task, content: &str, photos: usize) -> Result<StepAnswer, String> {
    match task {
        Task::Listing => {
            let r: ListingReply = object(content)?;
            let intent = likert(r.purchase_intent)?;
            let mut rated = std::collections::BTreeSet::new();
            let photo_appeal = r
                .photo_appeal
                .into_iter()
                .filter(|a| a.photo.is_finite() && a.appeal.is_finite())
                .map(|a| (a.photo.round() as i64, a.appeal))
                .filter(|(n, _)| *n >= 1 && *n as usize <= photos && rated.insert(*n))
                .map(|(n, appeal)| PhotoAppeal {
                    photo: n as u32,
                    appeal: appeal.round().clamp(1.0, 5.0) as u8,
                })
                .collect();
            Ok(StepAnswer {
                judgement: Judgement::Listing(ListingJudgement {
                    purchase_intent: intent,
                    intent_distribution: ssr::distribution(Scale::Purchase, &r.answer, intent),
                    purchase_probability: probability(r.purchase_probability)?,
                    willingness_to_pay: r.willingness_to_pay.filter(|w| w.is_finite() && *w > 0.0),
                    likes: items(r.likes),
                    dislikes: items(r.dislikes),
                    photo_appeal,
                }),
                answer: r.answer,
            })
        }
        Task::Engagement => {
            let r: EngagementReply = object(content)?;
            Ok(StepAnswer {
                judgement: Judgement::Engagement(EngagementJudgement {
                    open_probability: probability(r.open_probability)?,
                    click_probability: probability(r.click_probability)?,
                    reply_probability: probability(r.reply_probability)?,
                    sentiment: signed(r.sentiment)?,
                    objections: items(r.objections),
                }),
                answer: r.answer,
            })
        }
        Task::Touch => {
            let r: TouchReply = object(content)?;
            Ok(StepAnswer {
                judgement: Judgement::Touch(TouchJudgement {
                    response_probability: probability(r.response_probability)?,
                    sentiment: signed(r.sentiment)?,
                    interest: probability(r.interest)?,
                    annoyance: probability(r.annoyance)?,
                }),
                answer: r.answer,
            })
        }
        Task::Scenario => {
            let r: ScenarioReply = object(content)?;
            let interest = likert(r.interest)?;
            Ok(StepAnswer {
                judgement: Judgement::Scenario(ScenarioJudgement {
                    interest,
                    interest_distribution: ssr::distribution(Scale::Interest, &r.answer, interest),
                    likely_next_step: r.likely_next_step.chars().take(200).collect(),
                    positive_outcome_probability: probability(r.positive_outcome_probability)?,
                    sentiment: signed(r.sentiment)?,
                    objections: items(r.objections),
                    questions: items(r.questions),
                }),
                answer: r.answer,
            })
        }
    }
}

/// The JSON object in `content`, tolerating code fences and prose around it.
pub fn object<T: DeserializeOwned>(content: &str) -> Result<T, String> {
    let start = content.find('{').ok_or("no JSON object")?;
    let end = content.rfind('}').ok_or("unterminated JSON object")?;
    if end < start {
        return Err("unterminated JSON object".into());
    }
    serde_json::from_str(&content[start..=end]).map_err(|e| e.to_string())
}

fn finite(value: f64, what: &str) -> Result<f64, String> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("{what} is not a number"))
    }
}

fn likert(value: f64) -> Result<u8, String> {
    Ok(finite(value, "a Likert score")?.round().clamp(1.0, 5.0) as u8)
}

fn probability(value: f64) -> Result<f64, String> {
    Ok(finite(value, "a probability")?.clamp(0.0, 1.0))
}

fn signed(value: f64) -> Result<f64, String> {
    Ok(finite(value, "a sentiment")?.clamp(-1.0, 1.0))
}

fn items(list: Vec<String>) -> Vec<String> {
    list.into_iter()
        .map(|s| s.trim().chars().take(200).collect::<String>())
        .filter(|s| !s.is_empty())
        .take(MAX_ITEMS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_in_fences_are_repaired_and_clamped() {
        let content = "```json\n{\"answer\":\"Lovely\",\"purchase_intent\":7,\"purchase_probability\":1.4,\
            \"willingness_to_pay\":null,\"likes\":[\"view\"],\"dislikes\":[],\
            \"photo_appeal\":[{\"photo\":1,\"appeal\":9},{\"photo\":4,\"appeal\":2},{\"photo\":1,\"appeal\":1}]}\n```";
        let answer = parse(Task::Listing, content, 2).unwrap();
        let Judgement::Listing(j) = answer.judgement else {
            panic!("kind")
        };
        assert_eq!(j.purchase_intent, 5);
        assert_eq!(j.purchase_probability, 1.0);
        assert_eq!(
            j.photo_appeal,
            vec![PhotoAppeal {
                photo: 1,
                appeal: 5
            }],
            "unknown and repeated photos dropped"
        );
        assert!((j.intent_distribution.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn each_task_parses_its_own_shape() {
        let touch = r#"{"answer":"Not now","response_probability":0.2,"sentiment":-0.5,"interest":0.3,"annoyance":1.5}"#;
        let Judgement::Touch(t) = parse(Task::Touch, touch, 0).unwrap().judgement else {
            panic!("kind")
        };
        assert_eq!(t.annoyance, 1.0);
        assert!(
            parse(Task::Engagement, touch, 0).is_err(),
            "a touch reply is not an engagement reply"
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse(Task::Listing, "I'd rather not say", 0).is_err());
        assert!(parse(Task::Scenario, "{\"answer\": \"truncated", 0).is_err());
    }
}
