//! The document checks of FORM.md "What is rejected" that need nothing but the document and the
//! time it was received: shape, form, ID numbers, visit time. Every reason is collected; the
//! surveyor gets them all in one answer, not one per round trip over a 2G link.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::canonical::content_digest;
use crate::form::{self, KNOWN_FORMS, Survey};
use crate::ids::{ContentDigest, IdError, IdNumber};
use crate::messages::{Arg, Msg, ordinal, say};
use crate::rejection::{Rejection, RejectionCode};

pub struct CheckContext {
    /// When the upload was received: "in the future" is judged against this, so a retry later
    /// gives the same answer.
    pub now: DateTime<Utc>,
}

/// A survey that passed the document checks.
#[derive(Debug, Clone)]
pub struct CheckedSurvey {
    pub survey: Survey,
    /// The members' ID numbers, in member order.
    pub id_numbers: Vec<IdNumber>,
    pub digest: ContentDigest,
    pub value: Value,
}

impl CheckedSurvey {
    pub fn signature(&self) -> Option<&form::Signature> {
        self.survey.signature.as_ref()
    }
}

const REQUIRED: [&str; 14] = [
    "id",
    "form",
    "supersedes",
    "household_code",
    "visited_at",
    "location",
    "members",
    "income",
    "food_secure",
    "clothing_secure",
    "housing",
    "water",
    "photos",
    "remarks",
];
const FUTURE_TOLERANCE_MINUTES: i64 = 10;

fn invalid(field: &str, message: impl Into<String>) -> Rejection {
    Rejection::new(RejectionCode::InvalidDocument, message).at(field)
}

/// A field's name as an argument of a message (it is an identifier, never personal data).
fn named(field: &str) -> [(&'static str, Arg<'_>); 1] {
    [("field", Arg::from(field))]
}

pub fn check_document(raw: &[u8], ctx: &CheckContext) -> Result<CheckedSurvey, Vec<Rejection>> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        vec![Rejection::new(
            RejectionCode::InvalidDocument,
            say(
                Msg::NotJson,
                &[
                    ("line", Arg::from(e.line().to_string())),
                    ("column", Arg::from(e.column().to_string())),
                ],
            ),
        )]
    })?;
    let Value::Object(obj) = &value else {
        return Err(vec![Rejection::new(
            RejectionCode::InvalidDocument,
            say(Msg::NotObject, &[]),
        )]);
    };
    match obj.get("form") {
        Some(Value::String(f)) if KNOWN_FORMS.contains(&f.as_str()) => {}
        Some(Value::String(f)) => {
            // The name as sent, cut short: it is shown back, and a client may send anything.
            let form: String = f.chars().take(64).collect();
            return Err(vec![
                Rejection::new(
                    RejectionCode::UnknownForm,
                    say(
                        Msg::UnknownForm,
                        &[
                            ("form", Arg::from(form)),
                            ("forms", Arg::from(KNOWN_FORMS.join("、"))),
                        ],
                    ),
                )
                .at("form"),
            ]);
        }
        _ => return Err(vec![invalid("form", say(Msg::FormMissing, &[]))]),
    }
    let mut errors = shape_errors(obj);
    let survey: Option<Survey> = if errors.is_empty() {
        match serde_json::from_value(value.clone()) {
            Ok(s) => Some(s),
            Err(_) => {
                errors.push(Rejection::new(
                    RejectionCode::InvalidDocument,
                    say(Msg::NotForm, &[]),
                ));
                None
            }
        }
    } else {
        None
    };
    let ids = id_number_errors(obj, &mut errors);
    if let Some(s) = &survey {
        visit_time_errors(s, ctx, &mut errors);
    }
    let digest = content_digest(&value).map_err(|_| {
        vec![Rejection::new(
            RejectionCode::InvalidDocument,
            say(Msg::Digest, &[]),
        )]
    })?;
    match survey {
        Some(survey) if errors.is_empty() => Ok(CheckedSurvey {
            survey,
            id_numbers: ids,
            digest,
            value,
        }),
        _ => Err(errors),
    }
}

/// Unknown, missing and ill-typed top-level members, each reported on its own.
fn shape_errors(obj: &Map<String, Value>) -> Vec<Rejection> {
    let mut errors = Vec::new();
    for key in obj.keys() {
        if !REQUIRED.contains(&key.as_str()) && key != "signature" {
            errors.push(invalid(key, say(Msg::UnknownField, &named(key))));
        }
    }
    for key in REQUIRED {
        if !obj.contains_key(key) {
            errors.push(invalid(key, say(Msg::FieldMissing, &named(key))));
        }
    }
    fn typed<T: DeserializeOwned>(
        obj: &Map<String, Value>,
        key: &str,
        errors: &mut Vec<Rejection>,
    ) {
        // The parser's own words would quote the value, which may be personal data.
        if let Some(v) = obj.get(key)
            && serde_json::from_value::<T>(v.clone()).is_err()
        {
            errors.push(invalid(key, say(Msg::FieldType, &named(key))));
        }
    }
    typed::<crate::ids::SubmissionId>(obj, "id", &mut errors);
    typed::<Option<crate::ids::SubmissionId>>(obj, "supersedes", &mut errors);
    typed::<crate::ids::HouseholdCode>(obj, "household_code", &mut errors);
    typed::<chrono::DateTime<chrono::FixedOffset>>(obj, "visited_at", &mut errors);
    typed::<form::Location>(obj, "location", &mut errors);
    typed::<Vec<form::Member>>(obj, "members", &mut errors);
    typed::<form::Income>(obj, "income", &mut errors);
    typed::<bool>(obj, "food_secure", &mut errors);
    typed::<bool>(obj, "clothing_secure", &mut errors);
    typed::<form::Housing>(obj, "housing", &mut errors);
    typed::<form::Water>(obj, "water", &mut errors);
    typed::<Vec<form::PhotoEntry>>(obj, "photos", &mut errors);
    typed::<String>(obj, "remarks", &mut errors);
    typed::<Option<form::Signature>>(obj, "signature", &mut errors);
    if obj
        .get("members")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        errors.push(invalid("members", say(Msg::NoMembers, &[])));
    }
    errors
}

/// Each member's ID number: shape, check character, birth date, and no repeats in the household.
fn id_number_errors(obj: &Map<String, Value>, errors: &mut Vec<Rejection>) -> Vec<IdNumber> {
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    let members = obj
        .get("members")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, m) in members.iter().enumerate() {
        let field = format!("members[{i}].id_number");
        let Some(raw) = m.get("id_number").and_then(Value::as_str) else {
            continue;
        };
        match IdNumber::parse(raw) {
            Ok(id) => {
                if !seen.insert(id.clone()) {
                    errors.push(
                        Rejection::new(
                            RejectionCode::InvalidIdNumber,
                            say(Msg::IdRepeated, &[("member", ordinal(i))]),
                        )
                        .at(field),
                    );
                }
                ids.push(id);
            }
            Err(e) => {
                let why = match e {
                    IdError::IdCheck => Msg::IdCheck,
                    IdError::IdBirthDate => Msg::IdBirthDate,
                    _ => Msg::IdShape,
                };
                errors.push(
                    Rejection::new(
                        RejectionCode::InvalidIdNumber,
                        say(why, &[("member", ordinal(i))]),
                    )
                    .at(field),
                );
            }
        }
    }
    ids
}

fn visit_time_errors(s: &Survey, ctx: &CheckContext, errors: &mut Vec<Rejection>) {
    let visited = s.visited_at.with_timezone(&Utc);
    if visited > ctx.now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) {
        errors.push(
            Rejection::new(
                RejectionCode::VisitInFuture,
                say(Msg::VisitAfterUpload, &[]),
            )
            .at("visited_at"),
        );
    }
    let year_start = NaiveDate::from_ymd_opt(s.income.year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| s.visited_at.offset().from_local_datetime(&d).single());
    match year_start {
        Some(start) if s.visited_at < start => errors.push(
            Rejection::new(
                RejectionCode::VisitInFuture,
                say(Msg::VisitBeforeIncomeYear, &[]),
            )
            .at("visited_at"),
        ),
        None => errors.push(invalid("income", say(Msg::IncomeYear, &[]))),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn fixture() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/survey-h1.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or(Value::Null)
    }

    fn ctx() -> CheckContext {
        CheckContext {
            now: Utc
                .with_ymd_and_hms(2026, 11, 24, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        }
    }

    fn codes(doc: &Value) -> Vec<(RejectionCode, Option<String>)> {
        match check_document(doc.to_string().as_bytes(), &ctx()) {
            Ok(_) => vec![],
            Err(e) => e.into_iter().map(|r| (r.code, r.field)).collect(),
        }
    }

    #[test]
    fn the_fixture_survey_passes() {
        let checked = check_document(fixture().to_string().as_bytes(), &ctx());
        assert!(checked.as_ref().is_ok(), "{:?}", checked.err());
        assert_eq!(checked.map(|c| c.id_numbers.len()).unwrap_or(0), 5);
    }

    #[test]
    fn every_reason_is_reported_at_once() {
        let mut doc = fixture();
        doc["colour"] = json!("blue");
        doc["food_secure"] = json!("yes");
        doc["members"][0]["id_number"] = json!("522732198711145258");
        doc.as_object_mut().map(|o| o.remove("remarks"));
        let got = codes(&doc);
        assert!(
            got.contains(&(RejectionCode::InvalidDocument, Some("colour".into()))),
            "{got:?}"
        );
        assert!(got.contains(&(RejectionCode::InvalidDocument, Some("food_secure".into()))));
        assert!(got.contains(&(RejectionCode::InvalidDocument, Some("remarks".into()))));
        assert!(got.contains(&(
            RejectionCode::InvalidIdNumber,
            Some("members[0].id_number".into())
        )));
    }

    #[test]
    fn an_unknown_form_is_reported_alone() {
        let mut doc = fixture();
        doc["form"] = json!("household-verification/9");
        doc["colour"] = json!("blue");
        assert_eq!(
            codes(&doc),
            vec![(RejectionCode::UnknownForm, Some("form".into()))]
        );
    }

    #[test]
    fn repeated_and_impossible_id_numbers_are_refused() {
        let mut doc = fixture();
        doc["members"][1]["id_number"] = doc["members"][0]["id_number"].clone();
        assert_eq!(
            codes(&doc),
            vec![(
                RejectionCode::InvalidIdNumber,
                Some("members[1].id_number".into())
            )]
        );
        let mut doc = fixture();
        doc["members"][2]["id_number"] = json!("not-an-id");
        assert_eq!(
            codes(&doc),
            vec![(
                RejectionCode::InvalidIdNumber,
                Some("members[2].id_number".into())
            )]
        );
    }

    #[test]
    fn visits_in_the_future_or_before_the_income_year_are_refused() {
        let mut doc = fixture();
        doc["visited_at"] = json!("2026-11-24T08:30:00+08:00");
        assert_eq!(
            codes(&doc),
            vec![(RejectionCode::VisitInFuture, Some("visited_at".into()))]
        );
        doc["visited_at"] = json!("2026-11-24T08:05:00+08:00");
        assert_eq!(codes(&doc), vec![], "within the 10-minute tolerance");
        doc["visited_at"] = json!("2024-12-31T23:00:00+08:00");
        assert_eq!(
            codes(&doc),
            vec![(RejectionCode::VisitInFuture, Some("visited_at".into()))]
        );
    }

    #[test]
    fn not_json_and_bad_household_codes_are_invalid_documents() {
        let e = check_document(b"{not json", &ctx())
            .err()
            .unwrap_or_default();
        assert_eq!(
            e.first().map(|r| r.code),
            Some(RejectionCode::InvalidDocument)
        );
        let mut doc = fixture();
        doc["household_code"] = json!("522732101201/0001");
        assert_eq!(
            codes(&doc),
            vec![(
                RejectionCode::InvalidDocument,
                Some("household_code".into())
            )]
        );
    }
}
