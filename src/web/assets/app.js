// rebound web admin: the few interactions HTML cannot do alone. No library, nothing loaded
// from elsewhere; every page also works without this file (plain forms).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const csrf = document.body.dataset.csrf || "";

  // Buttons that ask first (delete, reset).
  document.querySelectorAll("[data-confirm]").forEach((b) =>
    b.addEventListener("click", (e) => {
      if (!window.confirm(b.dataset.confirm)) e.preventDefault();
    })
  );

  // Sign-in: show the fields of the chosen method.
  const login = document.getElementById("login-form");
  if (login) {
    const show = () => {
      const token = document.getElementById("method-token").checked;
      login.querySelector(".by-token").hidden = !token;
      login.querySelector(".by-password").hidden = token;
    };
    login.querySelectorAll("input[name=method]").forEach((r) => r.addEventListener("change", show));
    show();
  }

  // The mailbox form: the port follows protocol and security unless typed.
  const mf = document.getElementById("mailbox-form");
  if (mf) {
    const defaults = { "imap/ssl": "993", "imap/starttls": "143", "imap/none": "143", "pop3/ssl": "995", "pop3/starttls": "110", "pop3/none": "110" };
    const port = mf.querySelector("#f-port");
    const fill = () => {
      const d = defaults[mf.querySelector("#f-protocol").value + "/" + mf.querySelector("#f-security").value];
      if (port.value === "" || Object.values(defaults).includes(port.value)) port.value = d;
    };
    mf.querySelector("#f-protocol").addEventListener("change", fill);
    mf.querySelector("#f-security").addEventListener("change", fill);
    if (port.value === "") fill();
  }

  // Verify connection: run the staged check on the unsaved form, show the panel in place.
  document.querySelectorAll("[data-verify]").forEach((b) =>
    b.addEventListener("click", async (e) => {
      e.preventDefault();
      const form = b.form;
      const panel = document.getElementById(b.dataset.verify);
      form.querySelectorAll(".field-error").forEach((p) => (p.textContent = ""));
      panel.innerHTML = '<p class="busy" id="verify-busy">Checking every stage…</p>';
      b.disabled = true;
      try {
        const r = await fetch(b.formAction, {
          method: "POST",
          headers: { "X-Requested-With": "fetch" },
          body: new URLSearchParams(new FormData(form)),
          credentials: "same-origin",
        });
        panel.innerHTML = await r.text();
        panel.querySelectorAll("[data-field]").forEach((li) => {
          const p = document.getElementById("err-" + li.dataset.field);
          if (p) p.textContent = li.textContent.replace(/^[^:]*: /, "");
        });
      } catch (err) {
        panel.innerHTML = '<p class="error">The check could not be run: ' + String(err) + "</p>";
      } finally {
        b.disabled = false;
      }
    })
  );

  // Rules: drag a row by its handle (or press Alt+↑/↓ on it, or its buttons) to reorder;
  // the new position is saved at once through the form of the moved row.
  const rules = document.getElementById("rules-body");
  if (rules) {
    let dragged = null;
    const save = (row) => {
      const rows = [...rules.querySelectorAll("tr[data-rule]")];
      const i = rows.indexOf(row);
      const body = new URLSearchParams({ csrf, key: row.dataset.rule, position: String(i + 1) });
      const status = document.getElementById("rules-status");
      fetch("/rules/move", { method: "POST", body, credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(async (r) => {
          status.textContent = r.ok ? "Order saved: " + row.dataset.rule + " is now #" + (i + 1) : "Not saved: " + (await r.text());
          if (r.ok) rows.forEach((tr, j) => (tr.querySelector(".pos").textContent = String(j + 1)));
        })
        .catch((err) => (status.textContent = "Not saved: " + String(err)));
    };
    rules.querySelectorAll("tr[data-rule]").forEach((row) => {
      const handle = row.querySelector(".handle");
      if (!handle) return;
      handle.addEventListener("dragstart", (e) => {
        dragged = row;
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", row.dataset.rule);
      });
      row.addEventListener("dragover", (e) => {
        if (!dragged) return;
        e.preventDefault();
      });
      row.addEventListener("drop", (e) => {
        e.preventDefault();
        if (!dragged || dragged === row) return;
        const rect = row.getBoundingClientRect();
        const after = e.clientY > rect.top + rect.height / 2;
        row.parentNode.insertBefore(dragged, after ? row.nextSibling : row);
        save(dragged);
        dragged = null;
      });
      handle.addEventListener("keydown", (e) => {
        if (!(e.key === "ArrowUp" || e.key === "ArrowDown")) return;
        e.preventDefault();
        const sibling = e.key === "ArrowUp" ? row.previousElementSibling : row.nextElementSibling;
        if (!sibling) return;
        row.parentNode.insertBefore(row, e.key === "ArrowUp" ? sibling : sibling.nextSibling);
        handle.focus();
        save(row);
      });
    });
  }
  // The rule editor's condition builder: add and remove rows (the page comes with a few
  // blank rows, for use without script); an operator the chosen field does not take is
  // disabled, and the value suggests what the field is known to hold.
  const builder = document.getElementById("condition-rows");
  if (builder) {
    const template = document.getElementById("condition-template");
    const fit = (row) => {
      const field = row.querySelector(".c-field").value;
      const op = row.querySelector(".c-op");
      op.querySelectorAll("option[data-only]").forEach((o) => {
        o.disabled = field !== "" && !o.dataset.only.split(" ").includes(field);
      });
      if (op.selectedOptions[0] && op.selectedOptions[0].disabled) op.value = "is";
      const value = row.querySelector(".c-value");
      if (document.getElementById("values-" + field)) value.setAttribute("list", "values-" + field);
      else value.removeAttribute("list");
    };
    const wire = (row) => {
      row.querySelector(".c-field").addEventListener("change", () => fit(row));
      const remove = row.querySelector(".remove-condition");
      remove.hidden = false;
      remove.addEventListener("click", () => {
        const next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        const focus = next ? next.querySelector(".c-field") : add;
        focus.focus();
      });
      fit(row);
    };
    const add = document.getElementById("add-condition");
    // One blank row is enough when rows can be added.
    const blank = [...builder.querySelectorAll(".condition")].filter((r) => r.querySelector(".c-field").value === "");
    blank.slice(1).forEach((r) => r.remove());
    builder.querySelectorAll(".condition").forEach(wire);
    add.hidden = false;
    add.addEventListener("click", () => {
      const used = [...builder.querySelectorAll(".condition")].map((r) => Number(r.dataset.index));
      const n = String(used.length ? Math.max(...used) + 1 : 0);
      const html = template.innerHTML.replaceAll("__N__", n);
      builder.insertAdjacentHTML("beforeend", html);
      const row = builder.lastElementChild;
      wire(row);
      row.querySelector(".c-field").focus();
    });
  }
});
