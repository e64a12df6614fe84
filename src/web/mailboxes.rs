//! `/mailboxes`: the Bounce addresses and Feedback loops tabs, the add/edit form with
//! **Verify connection** on the unsaved settings, row actions and bulk actions.
//!
//! Every action is the admin API's own handler (`api::mailboxes`, `api::mailbox_actions`):
//! the same validation (problems shown next to their field), audit, verify limits and
//! refusals (a config-file mailbox is read-only). A password typed in the form goes to the
//! API once and is never put back into a page.

use super::error::{WebError, WebResult};
use super::form::{Problems, checked};
use super::layout::{Chrome, link, segment, when_opt};
use super::session::{Signed, Write};
use crate::api::mailbox_actions::{self, BulkAction, BulkRequest};
use crate::api::mailboxes::{self as api, MailboxBody};
use crate::api::{ApiJson, ApiPath, AppState};
use crate::fetch::VerifyReport;
use crate::mailbox::{ManagedBy, Overview};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    tab: Option<String>,
    done: Option<String>,
}

/// One row as the list shows it.
pub struct Row {
    pub name: String,
    pub protocol: String,
    pub server: String,
    pub state: String,
    pub enabled: bool,
    pub last_poll: String,
    pub processed: i64,
    pub error_stage: String,
    pub error: String,
    /// A config-file mailbox: where it comes from (read-only here).
    pub file: Option<String>,
    pub edit: String,
}

impl Row {
    fn of(m: &Overview) -> Row {
        let s = m.status.as_ref();
        let failing = m.state == "failing";
        Row {
            name: m.name.clone(),
            protocol: m.protocol.to_uppercase(),
            server: m.server.clone(),
            state: m.state.clone(),
            enabled: m.enabled,
            last_poll: when_opt(&s.and_then(|s| s.last_poll_at)),
            processed: s.map_or(0, |s| s.messages_processed),
            error_stage: s.filter(|_| failing).and_then(|s| s.last_error_stage.clone()).unwrap_or_default(),
            error: s.filter(|_| failing).and_then(|s| s.last_error.clone()).unwrap_or_default(),
            file: m.config_file.clone().filter(|_| m.source == ManagedBy::Config),
            edit: format!("/mailboxes/{}/edit", segment(&m.name)),
        }
    }
}

#[derive(Template)]
#[template(path = "mailboxes.html")]
struct ListPage {
    chrome: Chrome,
    tab: String,
    rows: Vec<Row>,
    bounce_count: usize,
    fbl_count: usize,
}

#[utoipa::path(get, path = "/mailboxes", tag = "web", security(("session" = [])),
    responses((status = 200, description = "Bounce addresses and Feedback loops tabs, with the Error column", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn list(signed: Signed, State(state): State<AppState>, Query(q): Query<ListQuery>) -> WebResult {
    let all = api::list(signed.viewer(), State(state)).await?.0.mailboxes;
    let tab = if q.tab.as_deref() == Some("fbl") { "fbl" } else { "bounce" };
    let bounce_count = all.iter().filter(|m| m.purpose != "fbl").count();
    let rows = all.iter().filter(|m| (m.purpose == "fbl") == (tab == "fbl")).map(Row::of).collect();
    let page = ListPage {
        chrome: Chrome::of(&signed, "mailboxes").with_notice(q.done),
        tab: tab.into(),
        rows,
        bounce_count,
        fbl_count: all.len() - bounce_count,
    };
    Ok(Html(page.render()?).into_response())
}

/// The add/edit form's fields, as typed.
#[derive(Deserialize, Default, Clone)]
pub struct MailboxForm {
    /// The mailbox being edited (empty: a new one).
    #[serde(default)]
    pub original: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: String,
    #[serde(default)]
    pub security: String,
    pub verify_certificate: Option<String>,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub folders: String,
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub move_folder: String,
    #[serde(default)]
    pub schedule: String,
    pub idle: Option<String>,
    pub enabled: Option<String>,
}

impl MailboxForm {
    fn blank() -> MailboxForm {
        MailboxForm {
            purpose: "bounce".into(),
            protocol: "imap".into(),
            security: "ssl".into(),
            verify_certificate: Some("on".into()),
            folders: "INBOX".into(),
            after: "keep".into(),
            schedule: "*/5 * * * *".into(),
            enabled: Some("on".into()),
            ..Default::default()
        }
    }

    /// The form of a saved mailbox (its password stays on the server).
    fn of(m: &Overview) -> MailboxForm {
        let s = &m.settings;
        let text = |k: &str| match s.get(k) {
            Some(Value::String(v)) => v.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let flag =
            |k: &str, default: bool| s.get(k).and_then(Value::as_bool).unwrap_or(default).then(|| "on".to_string());
        let after = text("after_processing");
        let (after, move_folder) = match after.split_once(':') {
            Some(("move", folder)) => ("move".to_string(), folder.to_string()),
            _ if after.is_empty() => ("keep".into(), String::new()),
            _ => (after, String::new()),
        };
        let folders = s
            .get("folders")
            .and_then(Value::as_array)
            .map(|f| f.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "));
        MailboxForm {
            original: m.name.clone(),
            name: m.name.clone(),
            purpose: m.purpose.clone(),
            protocol: m.protocol.clone(),
            host: text("host"),
            port: text("port"),
            security: text("security"),
            verify_certificate: flag("verify_certificate", true),
            ca_file: text("ca_file"),
            username: text("username"),
            password: String::new(),
            folders: folders.unwrap_or_default(),
            after,
            move_folder,
            schedule: text("schedule"),
            idle: flag("idle", false),
            enabled: m.enabled.then(|| "on".into()),
        }
    }

    /// The API body: the `[[mailbox]]` keys the form has, or a problem of the form itself.
    fn body(&self) -> Result<MailboxBody, Problems> {
        let mut m = Map::new();
        let mut put = |k: &str, v: &str| {
            if !v.trim().is_empty() {
                m.insert(k.into(), json!(v.trim()));
            }
        };
        put("name", &self.name);
        put("purpose", &self.purpose);
        put("protocol", &self.protocol);
        put("host", &self.host);
        put("security", &self.security);
        put("ca_file", &self.ca_file);
        put("username", &self.username);
        put("schedule", &self.schedule);
        let after = if self.after == "move" { format!("move:{}", self.move_folder.trim()) } else { self.after.clone() };
        put("after_processing", &after);
        if !self.port.trim().is_empty() {
            let port: u16 =
                self.port.trim().parse().map_err(|_| Problems::one("port", "must be a number from 1 to 65535"))?;
            m.insert("port".into(), json!(port));
        }
        if self.protocol == "imap" {
            let folders: Vec<&str> = self.folders.split(',').map(str::trim).filter(|f| !f.is_empty()).collect();
            if !folders.is_empty() {
                m.insert("folders".into(), json!(folders));
            }
            m.insert("idle".into(), json!(checked(&self.idle)));
        }
        m.insert("verify_certificate".into(), json!(checked(&self.verify_certificate)));
        m.insert("enabled".into(), json!(checked(&self.enabled)));
        if !self.password.is_empty() {
            m.insert("password".into(), json!(self.password));
        }
        Ok(MailboxBody(m))
    }

    pub fn is(&self, field: &str, value: &str) -> bool {
        match field {
            "purpose" => self.purpose == value,
            "protocol" => self.protocol == value,
            "security" => self.security == value,
            "after" => self.after == value,
            _ => false,
        }
    }

    pub fn on(&self, field: &str) -> bool {
        match field {
            "verify_certificate" => checked(&self.verify_certificate),
            "idle" => checked(&self.idle),
            "enabled" => checked(&self.enabled),
            _ => false,
        }
    }
}

#[derive(Template)]
#[template(path = "mailbox_form.html")]
struct FormPage {
    chrome: Chrome,
    form: MailboxForm,
    problems: Problems,
    /// The rendered verify panel, when the form was verified without script.
    report: String,
    password_set: bool,
}

#[derive(Template)]
#[template(path = "verify_panel.html")]
pub struct VerifyPanel {
    pub report: VerifyReport,
}

impl VerifyPanel {
    pub fn facts(&self, stage: &crate::fetch::StageReport) -> String {
        let f = &stage.facts;
        if f.is_null() { String::new() } else { serde_json::to_string_pretty(f).unwrap_or_default() }
    }
}

fn form_page(signed: &Signed, form: MailboxForm, problems: Problems, report: String, status: StatusCode) -> WebResult {
    let password_set = !form.original.is_empty();
    let page = FormPage { chrome: Chrome::of(signed, "mailboxes"), form, problems, report, password_set };
    Ok((status, Html(page.render()?)).into_response())
}

#[utoipa::path(get, path = "/mailboxes/new", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The add form", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn new_form(signed: Signed) -> WebResult {
    signed.as_admin()?;
    form_page(&signed, MailboxForm::blank(), Problems::default(), String::new(), StatusCode::OK)
}

#[utoipa::path(get, path = "/mailboxes/{name}/edit", tag = "web", security(("session" = [])),
    responses((status = 200, description = "The edit form (config-file mailboxes read-only)", content_type = "text/html"), (status = 303, description = "Not signed in: to /login")))]
pub async fn edit_form(signed: Signed, State(state): State<AppState>, Path(name): Path<String>) -> WebResult {
    signed.as_admin()?;
    let m = api::get(signed.viewer(), State(state), ApiPath(name)).await?.0;
    if m.source == ManagedBy::Config {
        return Err(WebError::Page {
            status: StatusCode::CONFLICT,
            message: format!(
                "mailbox `{}` comes from the config file {}: change it there (this page shows it read-only)",
                m.name,
                m.config_file.unwrap_or_default()
            ),
        });
    }
    form_page(&signed, MailboxForm::of(&m), Problems::default(), String::new(), StatusCode::OK)
}

/// Saves the form: creates, or updates the mailbox named in `original`.
#[utoipa::path(post, path = "/mailboxes/save", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "The mailbox form's fields"),
    responses((status = 303, description = "Saved: to the list with a notice"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn save(State(state): State<AppState>, Write { signed, form }: Write<MailboxForm>) -> WebResult {
    let body = match form.body() {
        Ok(b) => b,
        Err(p) => return form_page(&signed, form, p, String::new(), StatusCode::UNPROCESSABLE_ENTITY),
    };
    let admin = signed.as_admin()?;
    let saved = if form.original.is_empty() {
        api::create(admin, State(state), ApiJson(body)).await.map(|(_, j)| j.0)
    } else {
        api::update(admin, State(state), ApiPath(form.original.clone()), ApiJson(body)).await.map(|j| j.0)
    };
    match saved {
        Ok(m) => {
            let tab = if m.purpose == "fbl" { "fbl" } else { "bounce" };
            Ok(Redirect::to(&link("/mailboxes", &[("tab", tab), ("done", &format!("saved mailbox {}", m.name))]))
                .into_response())
        }
        Err(e) => {
            let status = e.status;
            form_page(&signed, form, Problems::of(&e), String::new(), status)
        }
    }
}

/// Verify connection on the unsaved form: the panel alone for the page's script
/// (`X-Requested-With: fetch`), else the form again with the panel.
#[utoipa::path(post, path = "/mailboxes/verify", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "The mailbox form's fields"),
    responses((status = 200, description = "The staged check of the unsaved form, each stage with its mark and time", content_type = "text/html"), (status = 403, description = "Without the CSRF token, or from a viewer")))]
pub async fn verify_form(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Write { signed, form }: Write<MailboxForm>,
) -> WebResult {
    let fragment = headers.get("x-requested-with").is_some_and(|v| v == "fetch");
    let outcome = match form.body() {
        Ok(body) => {
            mailbox_actions::verify(signed.as_admin()?, State(state), ApiJson(body)).await.map_err(|e| Problems::of(&e))
        }
        Err(p) => Err(p),
    };
    match (outcome, fragment) {
        (Ok(report), true) => Ok(Html(VerifyPanel { report: report.0 }.render()?).into_response()),
        (Ok(report), false) => {
            let panel = VerifyPanel { report: report.0 }.render()?;
            form_page(&signed, form, Problems::default(), panel, StatusCode::OK)
        }
        (Err(p), true) => {
            let page = ProblemsPanel { problems: p };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
        (Err(p), false) => form_page(&signed, form, p, String::new(), StatusCode::UNPROCESSABLE_ENTITY),
    }
}

/// The form's problems, for the script to put next to each field.
#[derive(Template)]
#[template(path = "problems_panel.html")]
struct ProblemsPanel {
    problems: Problems,
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(rename = "do")]
    action: String,
    #[serde(default)]
    tab: String,
}

#[derive(Template)]
#[template(path = "verify_page.html")]
struct VerifyPage {
    chrome: Chrome,
    name: String,
    panel: String,
}

/// A row action: verify (a page with the report), poll now, enable, disable, delete.
#[utoipa::path(post, path = "/mailboxes/{name}/action", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`do`: verify, poll, enable, disable or delete"),
    responses((status = 303, description = "Done (poll, enable, disable, delete): to the list; verify answers 200 with its report"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn action(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Write { signed, form }: Write<ActionForm>,
) -> WebResult {
    let admin = signed.as_admin()?;
    let done = match form.action.as_str() {
        "verify" => {
            let report = mailbox_actions::verify_saved(admin, State(state), ApiPath(name.clone())).await?.0;
            let page =
                VerifyPage { chrome: Chrome::of(&signed, "mailboxes"), name, panel: VerifyPanel { report }.render()? };
            return Ok(Html(page.render()?).into_response());
        }
        "poll" => {
            let started = mailbox_actions::poll(admin, State(state), ApiPath(name)).await?.1.0;
            format!(
                "poll of {} started at {}; reload to see its result",
                started.mailbox,
                started.started_at.format("%H:%M:%S")
            )
        }
        "enable" => format!("enabled {}", api::enable(admin, State(state), ApiPath(name)).await?.0.name),
        "disable" => format!("disabled {}", api::disable(admin, State(state), ApiPath(name)).await?.0.name),
        "delete" => format!("deleted {}", api::delete(admin, State(state), ApiPath(name)).await?.0.name),
        other => return Err(WebError::bad_request(format!("`{other}` is not a mailbox action"))),
    };
    Ok(Redirect::to(&link("/mailboxes", &[("tab", &form.tab), ("done", &done)])).into_response())
}

/// Bulk verify, enable or disable of the ticked rows: a line per mailbox in the notice.
#[utoipa::path(post, path = "/mailboxes/bulk", tag = "web", security(("session" = [])), request_body(content_type = "application/x-www-form-urlencoded", description = "`do` (verify, enable, disable) and a `name` per ticked row"),
    responses((status = 303, description = "Done for each ticked row: to the list with a line per mailbox"), (status = 403, description = "Without the session's CSRF token, or from a viewer"), (status = 422, description = "The API refused it: the form again with its problems", content_type = "text/html")))]
pub async fn bulk(State(state): State<AppState>, Write { signed, form }: Write<Vec<(String, String)>>) -> WebResult {
    let names: Vec<String> = form.iter().filter(|(k, _)| k == "names").map(|(_, v)| v.clone()).collect();
    let value = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("");
    let action = match value("bulk") {
        "verify" => BulkAction::Verify,
        "enable" => BulkAction::Enable,
        "disable" => BulkAction::Disable,
        other => {
            return Err(WebError::bad_request(format!("`{other}` is not a bulk action: verify, enable or disable")));
        }
    };
    let reply =
        mailbox_actions::bulk(signed.as_admin()?, State(state), ApiJson(BulkRequest { action, names })).await?.0;
    let each: Vec<String> = reply
        .results
        .iter()
        .map(|r| match (&r.error, action) {
            (Some(e), _) => format!("{}: {}", r.name, e.message),
            (None, BulkAction::Verify) => {
                let ok = r.result.as_ref().and_then(|v| v.get("ok")).and_then(Value::as_bool).unwrap_or(false);
                format!(
                    "{}: {}",
                    r.name,
                    if ok { "every stage passed" } else { "a stage failed (verify the row for details)" }
                )
            }
            (None, _) => format!("{}: done", r.name),
        })
        .collect();
    let done = format!("{} succeeded, {} failed — {}", reply.succeeded, reply.failed, each.join("; "));
    Ok(Redirect::to(&link("/mailboxes", &[("tab", value("tab")), ("done", &done)])).into_response())
}
