//! A focus group's questions: plain text (the PRD's shape — the persona answers in words and
//! gives its purchase intent) or typed, with an answer of a declared shape that results
//! aggregate per segment (shares, ranks, percentiles, themes).

use poem_openapi::{Object, Union};
use serde::{Deserialize, Serialize};

text_enum! {
    /// The shape of a typed question's answer.
    pub enum AnswerType {
        /// A point from 1 (not at all) to 5 (completely).
        Likert => "likert",
        YesNo => "yes_no",
        /// One of `options`.
        SingleChoice => "single_choice",
        /// Any of `options` (at least one).
        MultiChoice => "multi_choice",
        /// Every one of `options`, best first.
        Ranking => "ranking",
        /// A number, in `unit` when given (a price, months, bedrooms).
        Numeric => "numeric",
        /// A sentence; results group the answers into themes.
        FreeText => "free_text",
    }
}

/// The most options a choice or ranking question may offer.
pub const MAX_OPTIONS: usize = 12;

/// A question put to the panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Union)]
#[oai(one_of)]
#[serde(untagged)]
pub enum Question {
    /// Free text plus the intent judgement.
    Plain(String),
    Typed(TypedQuestion),
}

/// A question whose answer has a declared shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TypedQuestion {
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub text: String,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub answer: AnswerType,
    /// The choices: 2 to 12 distinct ones for `single_choice`, `multi_choice` and `ranking`;
    /// absent otherwise.
    #[oai(validator(max_items = 12, min_length = 1, max_length = 200))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// What a `numeric` answer is counted in ("USD", "months").
    #[oai(validator(min_length = 1, max_length = 40))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl Question {
    pub fn text(&self) -> &str {
        match self {
            Question::Plain(text) => text,
            Question::Typed(q) => &q.text,
        }
    }

    pub fn typed(&self) -> Option<&TypedQuestion> {
        match self {
            Question::Plain(_) => None,
            Question::Typed(q) => Some(q),
        }
    }

    /// Why the question cannot be asked, in words for the person who wrote it.
    pub fn problem(&self) -> Option<String> {
        let text = self.text();
        if text.trim().is_empty() {
            return Some("a question needs words".into());
        }
        if text.chars().count() > 2000 {
            return Some("a question may have up to 2,000 characters".into());
        }
        self.typed().and_then(TypedQuestion::problem)
    }
}

impl From<&str> for Question {
    fn from(text: &str) -> Self {
        Question::Plain(text.to_owned())
    }
}

impl TypedQuestion {
    pub fn options(&self) -> &[String] {
        self.options.as_deref().unwrap_or_default()
    }

    fn problem(&self) -> Option<String> {
        let kind = self.answer.as_str();
        let takes_options = matches!(
            self.answer,
            AnswerType::SingleChoice | AnswerType::MultiChoice | AnswerType::Ranking
        );
        let options = self.options();
        if takes_options {
            if options.len() < 2 {
                return Some(format!("a {kind} question needs at least 2 options"));
            }
            if let Some(blank) = options.iter().position(|o| o.trim().is_empty()) {
                return Some(format!("option {} is blank", blank + 1));
            }
            let mut seen = std::collections::BTreeSet::new();
            if let Some(repeat) = options
                .iter()
                .find(|o| !seen.insert(o.trim().to_lowercase()))
            {
                return Some(format!("the option \"{}\" is given twice", repeat.trim()));
            }
        } else if self.options.is_some() {
            return Some(format!(
                "a {kind} question takes no options (only single_choice, multi_choice and ranking do)"
            ));
        }
        if self.unit.is_some() && self.answer != AnswerType::Numeric {
            return Some(format!(
                "a {kind} question takes no unit (only numeric questions do)"
            ));
        }
        None
    }
}

/// A persona's answer to a typed question, tagged with the question's `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Union)]
#[oai(discriminator_name = "type", one_of)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TypedAnswer {
    #[oai(mapping = "likert")]
    Likert(PointAnswer),
    #[oai(mapping = "yes_no")]
    YesNo(YesNoAnswer),
    #[oai(mapping = "single_choice")]
    SingleChoice(ChoiceAnswer),
    #[oai(mapping = "multi_choice")]
    MultiChoice(ChoicesAnswer),
    #[oai(mapping = "ranking")]
    Ranking(RankingAnswer),
    #[oai(mapping = "numeric")]
    Numeric(NumberAnswer),
    #[oai(mapping = "free_text")]
    FreeText(TextAnswer),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct PointAnswer {
    /// 1 (not at all) to 5 (completely).
    pub point: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct YesNoAnswer {
    pub yes: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct ChoiceAnswer {
    /// One of the question's options, as the question spells it.
    pub option: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct ChoicesAnswer {
    /// The options chosen, in the question's order.
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct RankingAnswer {
    /// Every option once, best first.
    pub order: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct NumberAnswer {
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct TextAnswer {
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(answer: AnswerType, options: &[&str], unit: Option<&str>) -> Question {
        Question::Typed(TypedQuestion {
            text: "Which?".into(),
            answer,
            options: (!options.is_empty()).then(|| options.iter().map(|o| o.to_string()).collect()),
            unit: unit.map(str::to_owned),
        })
    }

    #[test]
    fn plain_strings_and_typed_objects_read_from_the_same_list() {
        let questions: Vec<Question> = serde_json::from_str(
            r#"["First impression?", {"text": "Lead photo?", "type": "single_choice", "options": ["Pool", "Terrace"]}]"#,
        )
        .unwrap();
        assert_eq!(questions[0], Question::Plain("First impression?".into()));
        assert_eq!(
            questions[1].typed().map(|q| q.answer),
            Some(AnswerType::SingleChoice)
        );
        assert_eq!(
            serde_json::to_value(&questions).unwrap()[0],
            "First impression?",
            "a plain question stays a string"
        );
    }

    #[test]
    fn each_type_says_what_it_needs() {
        use AnswerType::*;
        assert_eq!(typed(SingleChoice, &["A", "B"], None).problem(), None);
        assert_eq!(typed(Numeric, &[], Some("USD")).problem(), None);
        assert!(
            typed(Ranking, &["A"], None)
                .problem()
                .unwrap()
                .contains("at least 2")
        );
        assert!(
            typed(MultiChoice, &["Pool", " pool"], None)
                .problem()
                .unwrap()
                .contains("twice")
        );
        assert!(
            typed(Likert, &["A", "B"], None)
                .problem()
                .unwrap()
                .contains("no options")
        );
        assert!(
            typed(YesNo, &[], Some("USD"))
                .problem()
                .unwrap()
                .contains("no unit")
        );
        assert!(Question::Plain("  ".into()).problem().is_some());
    }
}
