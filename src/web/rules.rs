//! `/rules`: the ordered rule list (drag handles, keyboard moves, on/off), the add/edit form
//! with a condition builder over the engine's fields and operators, the Test panel, and
//! Re-sync / Reset behind a confirmation that lists what would change.
//!
//! Every change is the admin API's handler (`api::rules`, `api::rules_list`); the
//! confirmation's list is the stage's own preview (`classify::sync::preview_*`: the real
//! operation, rolled back).

use super::error::WebResult;
use super::form::{Problems, checked};
use super::layout::{Chrome, link, segment, when_opt};
use super::session::{Posted, Signed, Write};
use crate::api::rules::{self as api, MoveTo, NewRule};
use crate::api::rules_list;
use crate::api::{ApiError, ApiJson, ApiPath, AppState};
use crate::classify::input::RuleInput;
use crate::classify::repo::StoredRule;
use crate::classify::{Field, GLOBAL_KEY, Op, sync, vocabulary};
use crate::ingest::explain::Explanation;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;
use serde_json::{Value, json};

pub struct RuleRow {
    pub position: usize,
    pub key: String,
    pub name: String,
    pub when: String,
    pub outcome: String,
    pub reason: String,
    pub enabled: bool,
    pub global: bool,
    pub hits: i64,
    pub last_hit: String,
    pub edit: String,
    pub edited: bool,
}

fn conditions_text(r: &StoredRule) -> String {
    r.rule
        .when
        .iter()
        .map(|c| {
            let v = if c.values.is_empty() { c.value.clone().unwrap_or_default() } else { c.values.join(" | ") };
            format!("{} {} {v}", c.field.as_str(), c.op.as_str())
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[derive(Template)]
#[template(path = "rules.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<RuleRow>,
    version: i64,
    test: String,
    test_message: String,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    done: Option<String>,
}

async fn list_page(
    signed: &Signed,
    state: AppState,
    notice: Option<String>,
    test: String,
    test_message: String,
) -> WebResult {
    let list = api::list(signed.viewer(), State(state)).await?.0;
    let rows = list
        .rules
        .iter()
        .map(|r| RuleRow {
            position: r.position,
            key: r.rule.key.clone(),
            name: r.rule.name.clone(),
            when: conditions_text(r),
            outcome: r.rule.outcome.as_str().into(),
            reason: r.rule.reason.clone().unwrap_or_default(),
            enabled: r.rule.enabled,
            global: r.rule.key == GLOBAL_KEY,
            hits: r.hit_count,
            last_hit: when_opt(&r.last_hit_at),
            edit: format!("/rules/{}/edit", segment(&r.rule.key)),
            edited: r.edited,
        })
        .collect();
    let page = ListPage {
        chrome: Chrome::of(signed, "rules").with_notice(notice),
        rows,
        version: list.rules_version,
        test,
        test_message,
    };
    Ok(Html(page.render()?).into_response())
}

#[utoipa::path(get, path = "/rules", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The ordered rule list with the Test panel", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn list(signed: Signed, State(state): State<AppState>, Query(q): Query<ListQuery>) -> WebResult {
    list_page(&signed, state, q.done, String::new(), String::new()).await
}

#[derive(Deserialize)]
pub struct MoveForm {
    key: String,
    position: usize,
}

/// Moves a rule to a 1-based position (drag-and-drop, keyboard, or the ↑/↓ buttons).
#[utoipa::path(post, path = "/rules/move", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`key` and the 1-based `position`"),
    responses((status = 200, description = "Moved (asked by the page's script, `X-Requested-With: fetch`): the new position as text"), (status = 303, description = "Moved: to the list with a notice"), (status = 403, description = "Without the CSRF token, or from a viewer")))]
pub async fn move_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Write { signed, form }: Write<MoveForm>,
) -> WebResult {
    let to = MoveTo { position: Some(form.position), before: None };
    let moved = api::move_rule(signed.as_admin()?, State(state), ApiPath(form.key), ApiJson(to)).await;
    let fetched = headers.get("x-requested-with").is_some_and(|v| v == "fetch");
    match (moved, fetched) {
        (Ok(c), true) => Ok(format!("{} is now #{}", c.0.rule.rule.key, c.0.rule.position).into_response()),
        (Err(e), true) => Ok((e.status, e.message).into_response()),
        (Ok(c), false) => Ok(Redirect::to(&link(
            "/rules",
            &[("done", &format!("moved {} to #{}", c.0.rule.rule.key, c.0.rule.position))],
        ))
        .into_response()),
        (Err(e), false) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ToggleForm {
    on: String,
}

#[utoipa::path(post, path = "/rules/{key}/toggle", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`on`: 1 or 0"),
    responses((status = 303, description = "Switched: to the list with a notice"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn toggle(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Write { signed, form }: Write<ToggleForm>,
) -> WebResult {
    let admin = signed.as_admin()?;
    let change = if form.on == "1" {
        api::enable(admin, State(state), ApiPath(key)).await?
    } else {
        api::disable(admin, State(state), ApiPath(key)).await?
    };
    let r = &change.0.rule.rule;
    let done = format!("rule {} is {}", r.key, if r.enabled { "on" } else { "off" });
    Ok(Redirect::to(&link("/rules", &[("done", &done)])).into_response())
}

#[derive(Deserialize)]
pub struct TestForm {
    message: String,
}

#[derive(Template)]
#[template(path = "rule_test.html")]
struct TestPanel {
    x: Explanation,
}

/// The Test panel: parsed fields, every matching rule and the decision (viewers may run it).
#[utoipa::path(post, path = "/rules/test", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`message`: the raw message"),
    responses((status = 200, description = "The list with the Test panel's parsed fields, matching rules and decision", content_type = "text/html"), (status = 403, description = "Without the CSRF token")))]
pub async fn test(State(state): State<AppState>, Posted { signed, form }: Posted<TestForm>) -> WebResult {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CONTENT_TYPE, "message/rfc822".parse().expect("a header value"));
    let raw = form.message.replace("\r\n", "\n").replace('\n', "\r\n");
    let panel = match rules_list::test(signed.viewer(), State(state.clone()), headers, Ok(raw.into())).await {
        Ok(x) => TestPanel { x: x.0 }.render()?,
        Err(e) => {
            format!("<p class=\"error\" role=\"alert\" id=\"test-error\">{}</p>", super::chart::escape(&e.message))
        }
    };
    list_page(&signed, state, None, panel, form.message).await
}

/// The whole-list operations: re-sync the defaults, reset to the shipped library.
#[derive(Clone, Copy, PartialEq)]
enum ListOp {
    Resync,
    Reset,
}

#[derive(Template)]
#[template(path = "rules_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    reset: bool,
    summary: sync::SyncSummary,
    custom: Vec<String>,
}

async fn confirm(signed: Signed, state: AppState, op: ListOp) -> WebResult {
    signed.as_admin()?;
    let (summary, custom) = state
        .db
        .run(move |c| {
            let custom: Vec<String> = crate::classify::repo::list(c)?
                .into_iter()
                .filter(|r| r.rule.origin == crate::classify::Origin::Custom)
                .map(|r| r.rule.key)
                .collect();
            let s = if op == ListOp::Reset { sync::preview_reset(c)? } else { sync::preview_resync(c)? };
            Ok::<_, crate::classify::repo::RulesError>((s, custom))
        })
        .await
        .map_err(ApiError::from)?;
    let page = ConfirmPage { chrome: Chrome::of(&signed, "rules"), reset: op == ListOp::Reset, summary, custom };
    Ok(Html(page.render()?).into_response())
}

#[utoipa::path(get, path = "/rules/resync", tag = "web", security(("session" = [])),
    responses((status = 200, description = "What re-syncing the default rules would change, to confirm", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn resync_confirm(signed: Signed, State(state): State<AppState>) -> WebResult {
    confirm(signed, state, ListOp::Resync).await
}

#[utoipa::path(get, path = "/rules/reset", tag = "web", security(("session" = [])),
    responses((status = 200, description = "What resetting to the shipped rules would change, to confirm", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn reset_confirm(signed: Signed, State(state): State<AppState>) -> WebResult {
    confirm(signed, state, ListOp::Reset).await
}

#[utoipa::path(post, path = "/rules/resync", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "The session's CSRF token"),
    responses((status = 303, description = "Re-synced: to the list with what changed"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn resync(State(state): State<AppState>, Write { signed, .. }: Write<Vec<(String, String)>>) -> WebResult {
    let s = rules_list::resync(signed.as_admin()?, State(state)).await?.0.summary;
    let done = format!(
        "re-synced: {} added, {} updated, {} retired, {} kept as you changed them",
        s.added.len(),
        s.updated.len(),
        s.retired.len(),
        s.conflicts.len()
    );
    Ok(Redirect::to(&link("/rules", &[("done", &done)])).into_response())
}

#[utoipa::path(post, path = "/rules/reset", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "The session's CSRF token"),
    responses((status = 303, description = "Reset: to the list with what changed"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn reset(State(state): State<AppState>, Write { signed, form }: Write<Vec<(String, String)>>) -> WebResult {
    let confirmed = form.iter().any(|(k, v)| k == "confirm" && v == "reset");
    let body = if confirmed { r#"{"confirm":"reset"}"# } else { "{}" };
    let s = rules_list::reset(signed.as_admin()?, State(state), Ok(body.into())).await?.0.summary;
    let done =
        format!("reset to the shipped library: {} rules, {} custom rules removed", s.added.len(), s.removed_custom);
    Ok(Redirect::to(&link("/rules", &[("done", &done)])).into_response())
}

/// One condition row of the builder.
pub struct CondRow {
    pub field: String,
    pub op: String,
    pub value: String,
    pub case_sensitive: bool,
}

#[derive(Template)]
#[template(path = "rule_form.html")]
struct FormPage {
    chrome: Chrome,
    original: String,
    key: String,
    name: String,
    description: String,
    outcome: String,
    reason: String,
    enabled: bool,
    conditions: Vec<CondRow>,
    fields: Vec<&'static str>,
    ops: Vec<OpChoice>,
    hints: Vec<Hint>,
    problems: Problems,
}

/// An operator of the builder, with the fields it applies to (empty: every field).
pub struct OpChoice {
    pub name: &'static str,
    pub only: String,
}

/// The known values of a field, offered as its value's suggestions.
pub struct Hint {
    pub field: &'static str,
    pub values: Vec<&'static str>,
}

/// Blank condition rows after the filled ones, for adding without script.
const SPARE: usize = 3;

fn form_page(signed: &Signed, mut page: FormPage, status: StatusCode) -> WebResult {
    page.chrome = Chrome::of(signed, "rules");
    for _ in 0..SPARE {
        page.conditions.push(CondRow {
            field: String::new(),
            op: "contains".into(),
            value: String::new(),
            case_sensitive: false,
        });
    }
    Ok((status, Html(page.render()?)).into_response())
}

fn blank(signed: &Signed) -> FormPage {
    FormPage {
        chrome: Chrome::of(signed, "rules"),
        original: String::new(),
        key: String::new(),
        name: String::new(),
        description: String::new(),
        outcome: "hard".into(),
        reason: String::new(),
        enabled: true,
        conditions: Vec::new(),
        fields: Field::ALL.iter().map(|f| f.as_str()).collect(),
        ops: Op::ALL
            .iter()
            .map(|o| {
                let fits: Vec<&str> = Field::ALL.iter().filter(|f| o.fits(**f)).map(|f| f.as_str()).collect();
                let only = if fits.len() == Field::ALL.len() { String::new() } else { fits.join(" ") };
                OpChoice { name: o.as_str(), only }
            })
            .collect(),
        hints: Field::ALL
            .iter()
            .map(|f| Hint { field: f.as_str(), values: vocabulary::known_values(*f) })
            .filter(|h| !h.values.is_empty())
            .collect(),
        problems: Problems::default(),
    }
}

#[utoipa::path(get, path = "/rules/new", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The add form with the condition builder", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn new_form(signed: Signed) -> WebResult {
    signed.as_admin()?;
    form_page(&signed, blank(&signed), StatusCode::OK)
}

#[utoipa::path(get, path = "/rules/{key}/edit", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The edit form with the condition builder", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn edit_form(signed: Signed, State(state): State<AppState>, Path(key): Path<String>) -> WebResult {
    signed.as_admin()?;
    let r = api::get(signed.viewer(), State(state), ApiPath(key)).await?.0.rule;
    let mut page = blank(&signed);
    page.original = r.key.clone();
    page.key = r.key;
    page.name = r.name;
    page.description = r.description.unwrap_or_default();
    page.outcome = r.outcome.as_str().into();
    page.reason = r.reason.unwrap_or_default();
    page.enabled = r.enabled;
    page.conditions = r
        .when
        .iter()
        .map(|c| CondRow {
            field: c.field.as_str().into(),
            op: c.op.as_str().into(),
            value: if c.values.is_empty() { c.value.clone().unwrap_or_default() } else { c.values.join(", ") },
            case_sensitive: c.case_sensitive,
        })
        .collect();
    form_page(&signed, page, StatusCode::OK)
}

/// Saves the form: a new rule (just above the Global rule) or the rule `original`.
#[utoipa::path(post, path = "/rules/save", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "The rule form: key, name, outcome, reason, position and the conditions (`field`, `op`, `value` per row)"),
    responses((status = 303, description = "Saved: to the list with a notice"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn save(State(state): State<AppState>, Write { signed, form }: Write<Vec<(String, String)>>) -> WebResult {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string()).unwrap_or_default();
    let mut page = blank(&signed);
    page.original = get("original");
    page.key = get("key");
    page.name = get("name");
    page.description = get("description");
    page.outcome = get("outcome");
    page.reason = get("reason");
    page.enabled = checked(&Some(get("enabled")));
    let mut when = Vec::new();
    // The builder's rows by their number (added and removed rows leave gaps), in order.
    let mut rows: Vec<(usize, &String)> =
        form.iter().filter_map(|(n, v)| Some((n.strip_prefix("field_")?.parse().ok()?, v))).collect();
    rows.sort_by_key(|(i, _)| *i);
    for (i, field) in rows {
        let (op, value) = (get(&format!("op_{i}")), get(&format!("value_{i}")));
        let case_sensitive = checked(&Some(get(&format!("case_{i}"))));
        if field.is_empty() {
            continue;
        }
        page.conditions.push(CondRow { field: field.clone(), op: op.clone(), value: value.clone(), case_sensitive });
        let mut c = json!({"field": field, "op": op, "case_sensitive": case_sensitive});
        if op == "in" {
            c["values"] = json!(value.split(',').map(str::trim).filter(|v| !v.is_empty()).collect::<Vec<_>>());
        } else {
            c["value"] = json!(value);
        }
        when.push(c);
    }
    let mut input = json!({"name": page.name, "outcome": page.outcome, "enabled": page.enabled, "when": when});
    let optional = [("key", &page.key), ("description", &page.description), ("reason", &page.reason)];
    for (k, v) in optional {
        if !v.is_empty() {
            input[k] = Value::String(v.clone());
        }
    }
    let admin = signed.as_admin()?;
    let saved = if page.original.is_empty() {
        match serde_json::from_value::<NewRule>(input) {
            Ok(body) => api::create(admin, State(state), ApiJson(body)).await.map(|(_, c)| c.0),
            Err(e) => Err(ApiError::bad_request(e.to_string())),
        }
    } else {
        if let Value::Object(m) = &mut input {
            m.remove("key");
        }
        match serde_json::from_value::<RuleInput>(input) {
            Ok(body) => {
                api::update(admin, State(state), ApiPath(page.original.clone()), ApiJson(body)).await.map(|c| c.0)
            }
            Err(e) => Err(ApiError::bad_request(e.to_string())),
        }
    };
    match saved {
        Ok(c) => Ok(Redirect::to(&link(
            "/rules",
            &[("done", &format!("saved rule {} at #{}", c.rule.rule.key, c.rule.position))],
        ))
        .into_response()),
        Err(e) => {
            page.problems = Problems::of(&e);
            let status = e.status;
            form_page(&signed, page, status)
        }
    }
}
