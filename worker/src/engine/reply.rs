//! The structured replies agent steps must produce: one JSON schema per task (OpenAI strict
//! structured output), and parsing that checks, clamps and tolerates prose or code fences
//! around the object.

use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use troupe_shared::domain::{
    AnswerType, ChoiceAnswer, ChoicesAnswer, EngagementJudgement, Judgement, ListingJudgement,
    NumberAnswer, PhotoAppeal, PointAnswer, RankingAnswer, ScenarioJudgement, TextAnswer,
    TouchJudgement, TypedAnswer, TypedQuestion, YesNoAnswer,
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
/// A free-text answer is a sentence; longer ones are cut here.
const MAX_TEXT_ANSWER: usize = 500;

/// What a step's reply must hold: the task's fields, ratings for the numbered `photos`, and an
/// answer in the shape of the typed question it asks, if it asks one.
pub struct Shape<'a> {
    pub task: Task,
    pub photos: Vec<u32>,
    pub typed: Option<&'a TypedQuestion>,
}

pub fn schema(shape: &Shape<'_>) -> Value {
    let mut schema = task_schema(shape.task);
    if let Some(question) = shape.typed {
        schema["properties"]["typed_answer"] = typed_schema(question);
        if let Some(required) = schema["required"].as_array_mut() {
            required.push(json!("typed_answer"));
        }
    }
    schema
}

/// The JSON schema of a typed question's answer: its options as an enum, so a strict model
/// cannot invent one.
fn typed_schema(question: &TypedQuestion) -> Value {
    let options = json!({ "type": "string", "enum": question.options() });
    match question.answer {
        AnswerType::Likert => json!({ "type": "integer", "minimum": 1, "maximum": 5 }),
        AnswerType::YesNo => json!({ "type": "boolean" }),
        AnswerType::SingleChoice => options,
        AnswerType::MultiChoice | AnswerType::Ranking => {
            json!({ "type": "array", "items": options })
        }
        AnswerType::Numeric => json!({ "type": "number" }),
        AnswerType::FreeText => json!({ "type": "string" }),
    }
}

fn task_schema(task: Task) -> Value {
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
    #[serde(default)]
    typed_answer: Option<Value>,
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

/// Parses a reply of `shape`.
pub fn parse(shape: &Shape<'_>, content: &str) -> Result<StepAnswer, String> {
    let photos = &shape.photos;
    match shape.task {
        Task::Listing => {
            let r: ListingReply = object(content)?;
            let typed_answer = match shape.typed {
                Some(question) => Some(typed_answer(question, r.typed_answer)?),
                None => None,
            };
            let intent = likert(r.purchase_intent)?;
            let mut rated = std::collections::BTreeSet::new();
            let photo_appeal = r
                .photo_appeal
                .into_iter()
                .filter(|a| a.photo.is_finite() && a.appeal.is_finite())
                .map(|a| (a.photo.round() as i64, a.appeal))
                .filter(|(n, _)| {
                    u32::try_from(*n).is_ok_and(|n| photos.contains(&n)) && rated.insert(*n)
                })
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
                    typed_answer,
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

/// A typed question's answer, checked against the question: a choice must be one of its
/// options (matched without regard to case or surrounding space, stored as the question spells
/// it), a ranking must hold every option once.
pub fn typed_answer(question: &TypedQuestion, raw: Option<Value>) -> Result<TypedAnswer, String> {
    let kind = question.answer.as_str();
    let raw = raw
        .filter(|v| !v.is_null())
        .ok_or_else(|| format!("no typed_answer to a {kind} question"))?;
    let wrong = || format!("typed_answer {raw} is not a {kind} answer");
    let option = |given: &Value| -> Result<String, String> {
        let given = given.as_str().ok_or_else(wrong)?;
        let wanted = given.trim().to_lowercase();
        question
            .options()
            .iter()
            .find(|o| o.trim().to_lowercase() == wanted)
            .cloned()
            .ok_or_else(|| format!("\"{given}\" is not one of the question's options"))
    };
    let chosen = |list: &Value| -> Result<Vec<String>, String> {
        let mut picked: Vec<String> = Vec::new();
        for item in list.as_array().ok_or_else(wrong)? {
            let option = option(item)?;
            if picked.contains(&option) {
                return Err(format!("\"{option}\" is chosen twice"));
            }
            picked.push(option);
        }
        Ok(picked)
    };
    Ok(match question.answer {
        AnswerType::Likert => TypedAnswer::Likert(PointAnswer {
            point: likert(raw.as_f64().ok_or_else(wrong)?)?,
        }),
        AnswerType::YesNo => TypedAnswer::YesNo(YesNoAnswer {
            yes: raw.as_bool().ok_or_else(wrong)?,
        }),
        AnswerType::SingleChoice => TypedAnswer::SingleChoice(ChoiceAnswer {
            option: option(&raw)?,
        }),
        AnswerType::MultiChoice => {
            let picked = chosen(&raw)?;
            if picked.is_empty() {
                return Err("a multi_choice answer chose no option".into());
            }
            // In the question's order, so equal answers compare equal.
            let options = question
                .options()
                .iter()
                .filter(|o| picked.contains(o))
                .cloned()
                .collect();
            TypedAnswer::MultiChoice(ChoicesAnswer { options })
        }
        AnswerType::Ranking => {
            let order = chosen(&raw)?;
            if order.len() != question.options().len() {
                return Err(format!(
                    "a ranking must place all {} options; this one placed {}",
                    question.options().len(),
                    order.len()
                ));
            }
            TypedAnswer::Ranking(RankingAnswer { order })
        }
        AnswerType::Numeric => TypedAnswer::Numeric(NumberAnswer {
            value: finite(raw.as_f64().ok_or_else(wrong)?, "a numeric answer")?,
        }),
        AnswerType::FreeText => {
            let text: String = raw
                .as_str()
                .ok_or_else(wrong)?
                .trim()
                .chars()
                .take(MAX_TEXT_ANSWER)
                .collect();
            if text.is_empty() {
                return Err("a free_text answer was empty".into());
            }
            TypedAnswer::FreeText(TextAnswer { text })
        }
    })
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

    fn shape(task: Task, photos: u32) -> Shape<'static> {
        Shape {
            task,
            photos: (1..=photos).collect(),
            typed: None,
        }
    }

    fn question(answer: AnswerType, options: &[&str]) -> TypedQuestion {
        TypedQuestion {
            text: "Which?".into(),
            answer,
            options: (!options.is_empty()).then(|| options.iter().map(|o| o.to_string()).collect()),
            unit: None,
        }
    }

    #[test]
    fn typed_answers_are_held_to_their_question() {
        let pick = question(AnswerType::SingleChoice, &["Ocean terrace", "Wine cellar"]);
        assert_eq!(
            typed_answer(&pick, Some(json!(" wine CELLAR"))),
            Ok(TypedAnswer::SingleChoice(ChoiceAnswer {
                option: "Wine cellar".into()
            })),
            "matched as the question spells it"
        );
        assert!(
            typed_answer(&pick, Some(json!("Helipad")))
                .unwrap_err()
                .contains("not one of")
        );
        assert!(
            typed_answer(&pick, None)
                .unwrap_err()
                .contains("no typed_answer")
        );
        let rank = question(AnswerType::Ranking, &["A", "B", "C"]);
        assert!(
            typed_answer(&rank, Some(json!(["A", "C"])))
                .unwrap_err()
                .contains("all 3")
        );
        assert!(
            typed_answer(&rank, Some(json!(["A", "A", "C"])))
                .unwrap_err()
                .contains("twice")
        );
        let many = question(AnswerType::MultiChoice, &["A", "B", "C"]);
        assert_eq!(
            typed_answer(&many, Some(json!(["C", "A"]))),
            Ok(TypedAnswer::MultiChoice(ChoicesAnswer {
                options: vec!["A".into(), "C".into()]
            }))
        );
        let yes = question(AnswerType::YesNo, &[]);
        assert!(
            typed_answer(&yes, Some(json!("yes"))).is_err(),
            "a word is not a boolean"
        );
        let schema = schema(&Shape {
            task: Task::Listing,
            photos: Vec::new(),
            typed: Some(&pick),
        });
        assert_eq!(
            schema["properties"]["typed_answer"]["enum"],
            json!(["Ocean terrace", "Wine cellar"])
        );
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .contains(&json!("typed_answer"))
        );
    }

    #[test]
    fn replies_in_fences_are_repaired_and_clamped() {
        let content = "```json\n{\"answer\":\"Lovely\",\"purchase_intent\":7,\"purchase_probability\":1.4,\
            \"willingness_to_pay\":null,\"likes\":[\"view\"],\"dislikes\":[],\
            \"photo_appeal\":[{\"photo\":1,\"appeal\":9},{\"photo\":4,\"appeal\":2},{\"photo\":1,\"appeal\":1}]}\n```";
        let answer = parse(&shape(Task::Listing, 2), content).unwrap();
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
        let Judgement::Touch(t) = parse(&shape(Task::Touch, 0), touch).unwrap().judgement else {
            panic!("kind")
        };
        assert_eq!(t.annoyance, 1.0);
        assert!(
            parse(&shape(Task::Engagement, 0), touch).is_err(),
            "a touch reply is not an engagement reply"
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse(&shape(Task::Listing, 0), "I'd rather not say").is_err());
        assert!(parse(&shape(Task::Scenario, 0), "{\"answer\": \"truncated").is_err());
    }
}
