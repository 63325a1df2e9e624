/*
 * replyguard moderation page. Talks to /api/v1/admin/… with the admin token
 * the moderator signs in with; the token lives in sessionStorage (this tab
 * only), never in a URL. Comment text is only ever inserted as text.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "replyguard-admin-token";
  var PAGE = 50;
  var STATUS_WORD = { approved: "approved", pending: "restored to pending", spam: "marked as spam", trash: "moved to trash" };
  var PIVOT_WORD = { ip: "IP address", email: "email address", domain: "link domain" };

  var state = {
    token: null,
    status: "pending",
    post: "",
    q: "",
    order: "desc",
    cursor: null,
    done: false,
    loading: false,
    generation: 0,
    records: new Map(),
    selected: new Set(),
    current: null,
    undo: null,
    pivot: null,
    job: null,
    focusAfterLoad: null
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function notice(message, kind) {
    var box = $("notice");
    box.textContent = message;
    box.className = "notice" + (kind ? " notice-" + kind : "");
  }

  function ApiError(status, body) {
    this.status = status;
    this.body = body || {};
    var error = this.body.error || {};
    var fields = error.fields ? Object.keys(error.fields).map(function (k) { return error.fields[k].join(" "); }) : [];
    // A field's own message says more than "some fields are invalid".
    this.message = fields.length ? fields.join(" ") : (error.message || ("The server answered " + status + "."));
  }

  function api(method, path, body) {
    var init = { method: method, headers: { Authorization: "Bearer " + state.token, Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch("/api/v1/admin" + path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.status === 401 || res.status === 403) {
          signOut(res.status === 401 ? "Your token was not accepted. Sign in again." : "That token is revoked or not allowed here.");
        }
        if (!res.ok) throw new ApiError(res.status, data);
        return data;
      });
    }, function () {
      throw new ApiError(0, { error: { message: "The server could not be reached." } });
    });
  }

  /* ---------- sign in ---------- */

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    $("app").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  function signIn(token) {
    state.token = token;
    return api("GET", "/stats").then(function (stats) {
      sessionStorage.setItem(TOKEN_KEY, token);
      $("signin").hidden = true;
      $("app").hidden = false;
      showStats(stats);
      route();
    });
  }

  /* ---------- stats and queue ---------- */

  function age(seconds) {
    if (seconds < 90) return seconds + " seconds";
    if (seconds < 90 * 60) return Math.round(seconds / 60) + " minutes";
    if (seconds < 36 * 3600) return Math.round(seconds / 3600) + " hours";
    return Math.round(seconds / 86400) + " days";
  }

  function showStats(stats) {
    Object.keys(stats.counts).forEach(function (status) {
      var slot = document.querySelector('[data-count="' + status + '"]');
      if (slot) slot.textContent = "(" + stats.counts[status] + ")";
    });
    var oldest = stats.oldest_pending_age_seconds;
    $("oldest").textContent = oldest === null || oldest === undefined
      ? "Nothing is waiting for moderation."
      : "The oldest pending comment has waited " + age(oldest) + ".";
  }

  function refreshStats() {
    return api("GET", "/stats").then(showStats, function () {});
  }

  function queueQuery() {
    var params = new URLSearchParams();
    if (state.status) params.set("status", state.status);
    if (state.post) params.set("post_id", state.post);
    if (state.q) params.set("q", state.q);
    params.set("order", state.order);
    params.set("limit", String(PAGE));
    if (state.cursor) params.set("cursor", state.cursor);
    return "/comments?" + params.toString();
  }

  function resetQueue() {
    state.generation++;
    state.cursor = null;
    state.done = false;
    state.loading = false;
    state.records.clear();
    state.selected.clear();
    state.current = null;
    $("queue").textContent = "";
    updateSelection();
    loadMore();
  }

  function loadMore() {
    if (state.loading || state.done || !state.token) return;
    state.loading = true;
    var generation = state.generation;
    $("queue-end").textContent = "Loading…";
    api("GET", queueQuery()).then(function (page) {
      if (generation !== state.generation) return;
      page.comments.forEach(function (record) {
        if (state.records.has(record.id)) return;
        state.records.set(record.id, record);
        $("queue").appendChild(renderRow(record));
      });
      state.cursor = page.next_cursor;
      state.done = !page.next_cursor;
      state.loading = false;
      var wanted = state.focusAfterLoad && rowOf(state.focusAfterLoad);
      if (wanted) {
        state.focusAfterLoad = null;
        setCurrent(wanted, true);
      } else if (state.current === null) {
        var first = $("queue").firstElementChild;
        if (first) setCurrent(first, false);
      }
      $("queue-end").textContent = state.done
        ? (state.records.size ? "No more comments." : "No comments here.")
        : "";
      if (!state.done && nearEnd()) loadMore();
    }, function (err) {
      if (generation !== state.generation) return;
      state.loading = false;
      $("queue-end").textContent = "The queue could not be loaded: " + err.message;
    });
  }

  function nearEnd() {
    return $("queue-end").getBoundingClientRect().top < window.innerHeight + 400;
  }

  /* ---------- one comment ---------- */

  function scoreBar(score) {
    if (score === null || score === undefined) return el("span", { className: "muted", text: "not scored" });
    var pct = Math.round(score * 100);
    var fill = el("span", { className: "score-fill" });
    fill.style.width = pct + "%";
    if (score >= 0.9) fill.classList.add("high");
    else if (score >= 0.5) fill.classList.add("mid");
    return el("span", { className: "score" }, [
      el("span", { className: "score-bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": "1", "aria-valuenow": String(score), "aria-label": "Spam score" }, [fill]),
      el("span", { className: "score-value", text: score.toFixed(2) })
    ]);
  }

  function reasonChips(reasons) {
    var list = el("ul", { className: "reasons", "aria-label": "Reasons" });
    (reasons || []).forEach(function (reason) {
      var token = reason.indexOf("token:") === 0;
      var chip = el("li", { className: token ? "chip token" : "chip" }, [token ? reason.slice(6) : reason]);
      if (token) chip.title = "This feature of the text pushed the score toward spam";
      list.appendChild(chip);
    });
    return list;
  }

  function renderRow(record) {
    var row = el("li", { className: "comment status-" + record.status, "data-id": String(record.id), tabindex: "-1", "aria-labelledby": "c" + record.id + "-title" });
    fillRow(row, record);
    // Whatever the moderator clicks or tabs to in a row makes it the one
    // the shortcuts act on.
    row.addEventListener("mousedown", function () { if (state.current !== row) setCurrent(row, false); });
    row.addEventListener("focusin", function () { if (state.current !== row) setCurrent(row, false); });
    return row;
  }

  function fillRow(row, record) {
    row.textContent = "";
    row.className = "comment status-" + record.status + (row.classList.contains("current") ? " current" : "");
    var select = el("input", { type: "checkbox", className: "select", "aria-label": "Select comment " + record.id });
    select.checked = state.selected.has(record.id);
    select.addEventListener("change", function () { toggleSelect(record.id, select.checked); });
    var who = el("div", { className: "who" }, [
      el("strong", { id: "c" + record.id + "-title", text: record.author_name }),
      el("span", { className: "email", text: record.author_email }),
      record.ip ? el("span", { className: "ip", text: record.ip }) : null,
      record.author_url ? el("span", { className: "url", text: record.author_url }) : null
    ]);
    var meta = el("div", { className: "meta" }, [
      el("span", { className: "badge badge-" + record.status, text: record.status }),
      el("span", { text: "#" + record.id }),
      el("span", { text: "post " + record.post_id }),
      el("time", { datetime: record.created_at, text: new Date(record.created_at).toLocaleString() }),
      scoreBar(record.spam_score)
    ]);
    var body = el("div", { className: "content", text: record.content });
    var context = null;
    if (record.parent_id) {
      context = el("div", { className: "context" }, [el("span", { className: "muted", text: "In reply to #" + record.parent_id + ": " })]);
      loadParent(record.parent_id, context);
    }
    var actions = el("div", { className: "actions" });
    [["approved", "Approve"], ["spam", "Spam"], ["trash", "Trash"], ["pending", "Restore"]].forEach(function (pair) {
      if (pair[0] === record.status) return;
      var button = el("button", { type: "button", "data-action": pair[0], text: pair[1] });
      button.addEventListener("click", function () { setCurrent(row, false); decide([record.id], pair[0]); });
      actions.appendChild(button);
    });
    if (record.status === "pending") {
      ["ip", "email", "domain"].forEach(function (by) {
        var button = el("button", { type: "button", className: "pivot", "data-pivot": by, text: "Spam all pending from this " + PIVOT_WORD[by] });
        button.addEventListener("click", function () { previewPivot(record.id, by); });
        actions.appendChild(button);
      });
    }
    row.appendChild(select);
    row.appendChild(el("div", { className: "main" }, [who, meta, context, body, reasonChips(record.reasons), actions]));

  }

  var parents = new Map();

  function loadParent(id, holder) {
    var known = parents.get(id);
    var promise = known || api("GET", "/comments/" + id);
    parents.set(id, promise);
    promise.then(function (parent) {
      holder.appendChild(el("blockquote", {}, [
        el("strong", { text: parent.author_name + " (" + parent.status + "): " }),
        parent.content.length > 280 ? parent.content.slice(0, 280) + "…" : parent.content
      ]));
    }, function () {
      holder.appendChild(el("span", { className: "muted", text: "(no longer exists)" }));
    });
  }

  function rowOf(id) {
    return document.querySelector('#queue > li[data-id="' + id + '"]');
  }

  function setCurrent(row, scroll) {
    if (state.current && state.current !== row) state.current.classList.remove("current");
    state.current = row;
    if (!row) return;
    row.classList.add("current");
    if (!row.contains(document.activeElement)) row.focus({ preventScroll: !scroll });
    if (scroll) row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var rows = Array.prototype.slice.call($("queue").children);
    if (!rows.length) return;
    var index = rows.indexOf(state.current);
    var next = rows[Math.max(0, Math.min(rows.length - 1, index < 0 ? 0 : index + step))];
    setCurrent(next, true);
    if (step > 0 && rows.indexOf(next) >= rows.length - 3) loadMore();
  }

  function toggleSelect(id, on) {
    if (on) state.selected.add(id); else state.selected.delete(id);
    var row = rowOf(id);
    if (row) {
      row.classList.toggle("selected", on);
      var box = row.querySelector("input.select");
      if (box) box.checked = on;
    }
    updateSelection();
  }

  function updateSelection() {
    $("selection-count").textContent = state.selected.size + " selected";
    $("undo").disabled = !state.undo;
  }

  /* A record after a decision: shown in place, or gone from a filtered view. */
  function place(record) {
    state.records.set(record.id, record);
    var row = rowOf(record.id);
    if (!row) return;
    if (state.status && record.status !== state.status) {
      var rows = Array.prototype.slice.call($("queue").children);
      var index = rows.indexOf(row);
      var next = rows[index + 1] || rows[index - 1] || null;
      state.selected.delete(record.id);
      state.records.delete(record.id);
      row.remove();
      if (state.current === row) setCurrent(next, true);
      if (!$("queue").children.length) loadMore();
    } else {
      fillRow(row, record);
    }
  }

  function refreshRow(id) {
    return api("GET", "/comments/" + id).then(function (record) {
      var row = rowOf(id);
      if (row) {
        state.records.set(id, record);
        fillRow(row, record);
        row.classList.add("conflict");
      }
    }, function (err) {
      if (err.status === 404) { var row = rowOf(id); if (row) row.remove(); }
    });
  }

  /* ---------- decisions ---------- */

  function describe(ids, to) {
    return (ids.length === 1 ? "Comment #" + ids[0] : ids.length + " comments") + " " + STATUS_WORD[to] + ".";
  }

  function decide(ids, to) {
    var changes = [];
    var conflicts = [];
    // Grouped by the status each was seen in, so a concurrent moderator's
    // decision is never overwritten (if_status).
    var groups = {};
    ids.forEach(function (id) {
      var record = state.records.get(id);
      if (!record || record.status === to) return;
      (groups[record.status] = groups[record.status] || []).push(id);
    });
    var work = Object.keys(groups).map(function (from) {
      var group = groups[from];
      if (group.length === 1) {
        return api("PATCH", "/comments/" + group[0], { status: to, if_status: from }).then(function (record) {
          changes.push({ id: record.id, from: from, to: to });
          place(record);
        }, function (err) {
          if (err.status === 409) { conflicts.push(group[0]); return refreshRow(group[0]); }
          throw err;
        });
      }
      return api("POST", "/comments/bulk", { ids: group, status: to, if_status: from }).then(function (outcome) {
        outcome.updated.forEach(function (id) {
          changes.push({ id: id, from: from, to: to });
          var record = Object.assign({}, state.records.get(id), { status: to });
          place(record);
        });
        outcome.conflicts.forEach(function (id) { conflicts.push(id); refreshRow(id); });
        outcome.missing.forEach(function (id) { var row = rowOf(id); if (row) row.remove(); });
      });
    });
    if (!work.length) {
      notice(ids.length === 1 ? "Comment #" + ids[0] + " is already " + to + "." : "Nothing to change.");
      return Promise.resolve();
    }
    return Promise.all(work).then(function () {
      if (changes.length) state.undo = { changes: changes };
      updateSelection();
      var done = changes.map(function (c) { return c.id; });
      var message = done.length ? describe(done, to) + " Press u to undo." : "";
      if (conflicts.length) {
        message += (message ? " " : "") + (conflicts.length === 1
          ? "Comment #" + conflicts[0] + " was changed by another moderator meanwhile; nothing was done to it and its row now shows its current state."
          : conflicts.length + " comments were changed by another moderator meanwhile; nothing was done to them and their rows now show their current state.");
      }
      notice(message, conflicts.length ? "warning" : "ok");
      refreshStats();
    }, function (err) {
      notice("That did not work: " + err.message, "error");
    });
  }

  function undo() {
    var last = state.undo;
    if (!last) { notice("There is nothing to undo."); return; }
    state.undo = null;
    updateSelection();
    var groups = {};
    last.changes.forEach(function (c) { (groups[c.from + ">" + c.to] = groups[c.from + ">" + c.to] || []).push(c); });
    // A bulk request takes at most 500 ids (a pivot moves up to 1,000).
    var requests = [];
    Object.keys(groups).forEach(function (key) {
      var group = groups[key];
      for (var i = 0; i < group.length; i += 500) {
        var chunk = group.slice(i, i + 500);
        requests.push(api("POST", "/comments/bulk", { ids: chunk.map(function (c) { return c.id; }), status: chunk[0].from, if_status: chunk[0].to }));
      }
    });
    Promise.all(requests).then(function (outcomes) {
      var restored = 0, conflicts = 0;
      outcomes.forEach(function (o) { restored += o.updated.length; conflicts += o.conflicts.length; });
      notice("Undone: " + restored + (restored === 1 ? " comment" : " comments") + " put back" +
        (conflicts ? "; " + conflicts + " had been changed by another moderator and were left alone." : "."), conflicts ? "warning" : "ok");
      refreshStats();
      // The moderator goes on from the comment that came back.
      state.focusAfterLoad = last.changes[0].id;
      resetQueue();
    }, function (err) {
      notice("Undo did not work: " + err.message, "error");
    });
  }

  /* ---------- pivot: a spam wave from one IP, email or link domain ---------- */

  function previewPivot(id, by) {
    api("POST", "/comments/" + id + "/pivot", { by: by, status: "spam", preview: true }).then(function (preview) {
      state.pivot = { id: id, by: by, count: preview.count, ids: preview.ids };
      var what = PIVOT_WORD[by] + " " + preview.value;
      $("pivot-text").textContent = preview.count === 0
        ? "No pending comment comes from the " + what + "."
        : preview.count + (preview.count === 1 ? " pending comment comes" : " pending comments come") +
          " from the " + what + (preview.more ? " (the first " + preview.count + " are shown; run it again for the rest)" : "") + ".";
      $("pivot-confirm").textContent = "Mark " + preview.count + " as spam";
      $("pivot-confirm").disabled = preview.count === 0;
      $("pivot-dialog").showModal();
      $(preview.count ? "pivot-confirm" : "pivot-cancel").focus();
    }, function (err) {
      notice(err.message, "error");
    });
  }

  function runPivot() {
    var pivot = state.pivot;
    $("pivot-dialog").close();
    if (!pivot) return;
    api("POST", "/comments/" + pivot.id + "/pivot", { by: pivot.by, status: "spam", ids: pivot.ids }).then(function (outcome) {
      var from = outcome.updated.map(function (id) { return { id: id, from: "pending", to: "spam" }; });
      if (from.length) state.undo = { changes: from };
      updateSelection();
      notice(outcome.updated.length + " pending " + (outcome.updated.length === 1 ? "comment" : "comments") + " from the " +
        PIVOT_WORD[pivot.by] + " " + outcome.value + " marked as spam." +
        (outcome.conflicts.length ? " " + outcome.conflicts.length + " had been moderated meanwhile and were left alone." : "") +
        " Press u to undo.", "ok");
      refreshStats();
      resetQueue();
    }, function (err) {
      notice(err.message, "error");
    });
  }

  /* ---------- models and keyword lists ---------- */

  function metric(metrics, key) {
    var value = metrics && metrics[key];
    if (typeof value !== "number") return "—";
    return key === "fpr" ? (value * 100).toFixed(2) + "%" : value.toFixed(3);
  }

  function loadModels() {
    return api("GET", "/models").then(function (list) {
      var body = $("models-table").querySelector("tbody");
      body.textContent = "";
      list.models.forEach(function (model) {
        var m = model.metrics || {};
        var action;
        if (model.active) {
          action = el("strong", { className: "active-mark", text: "Active" });
        } else {
          action = el("button", { type: "button", text: "Activate" });
          action.addEventListener("click", function () { activate(model.version); });
        }
        body.appendChild(el("tr", { "data-version": model.version, className: model.active ? "active" : "" }, [
          el("th", { scope: "row" }, [model.version + (model.built_in ? " (built in)" : "")]),
          el("td", { text: model.created_at ? new Date(model.created_at).toLocaleString() : "shipped" }),
          el("td", { text: model.training_size + " examples" }),
          el("td", { text: metric(m, "precision") }),
          el("td", { text: metric(m, "recall") }),
          el("td", { text: metric(m, "f1") }),
          el("td", { text: metric(m, "fpr") }),
          el("td", {}, [action])
        ]));
      });
    }, function (err) {
      notice("The models could not be loaded: " + err.message, "error");
    });
  }

  function activate(version) {
    api("POST", "/models/" + encodeURIComponent(version) + "/activate").then(function () {
      notice("Model " + version + " is now active.", "ok");
      loadModels().then(function () {
        var active = document.querySelector("#models-table tr.active th");
        if (active) { active.tabIndex = -1; active.focus(); }
      });
    }, function (err) {
      notice("Model " + version + " was not activated: " + err.message, "error");
    });
  }

  function train() {
    $("train").disabled = true;
    $("job").textContent = "Queuing a training job…";
    api("POST", "/models/train", {}).then(function (queued) {
      state.job = queued.job_id;
      pollJob(queued.job_id);
    }, function (err) {
      $("train").disabled = false;
      $("job").textContent = "Training was not started: " + err.message;
    });
  }

  function pollJob(id) {
    api("GET", "/jobs/" + id).then(function (job) {
      if (job.status === "queued" || job.status === "running") {
        var progress = job.progress !== null && job.progress !== undefined ? " (" + job.progress + ")" : "";
        $("job").textContent = "Training job #" + id + " is " + job.status + progress + "…";
        setTimeout(function () { if (state.job === id) pollJob(id); }, 1000);
        return;
      }
      $("train").disabled = false;
      state.job = null;
      if (job.status === "failed") {
        $("job").textContent = "Training job #" + id + " failed: " + (job.error || "no reason given") + ".";
      } else {
        $("job").textContent = "Training job #" + id + " built model " + job.model_version + "; " +
          (job.activated ? "it is now active." : "it was not activated: " + (job.reason || "no reason given") + ".");
      }
      loadModels();
    }, function (err) {
      $("train").disabled = false;
      $("job").textContent = "The job's state could not be read: " + err.message;
    });
  }

  function loadKeywords() {
    $("keywords-fields").disabled = true;
    return api("GET", "/settings/keywords").then(function (lists) {
      $("moderation-keys").value = lists.moderation_keys.join("\n");
      $("disallowed-keys").value = lists.disallowed_keys.join("\n");
      $("keywords-fields").disabled = false;
    }, function (err) {
      $("keywords-status").textContent = "The lists could not be loaded: " + err.message;
    });
  }

  function lines(text) {
    return text.split("\n").map(function (l) { return l.trim(); }).filter(function (l) { return l; });
  }

  function saveKeywords(event) {
    event.preventDefault();
    $("keywords-status").textContent = "Saving…";
    $("keywords-fields").disabled = true;
    api("PUT", "/settings/keywords", {
      moderation_keys: lines($("moderation-keys").value),
      disallowed_keys: lines($("disallowed-keys").value)
    }).then(function (lists) {
      $("moderation-keys").value = lists.moderation_keys.join("\n");
      $("disallowed-keys").value = lists.disallowed_keys.join("\n");
      $("keywords-status").textContent = "Saved. Every instance applies the lists within a few seconds.";
      $("keywords-fields").disabled = false;
    }, function (err) {
      $("keywords-status").textContent = "Not saved: " + err.message;
      $("keywords-fields").disabled = false;
    });
  }

  /* ---------- navigation and keys ---------- */

  function route() {
    if (!state.token) return;
    var models = location.hash === "#models";
    $("queue-view").hidden = models;
    $("models-view").hidden = !models;
    $("selection-bar").hidden = models;
    $("nav-queue").setAttribute("aria-current", models ? "false" : "page");
    $("nav-models").setAttribute("aria-current", models ? "page" : "false");
    if (models) { loadModels(); loadKeywords(); } else { resetQueue(); }
  }

  function setStatus(status) {
    state.status = status;
    document.querySelectorAll(".tabs [data-status]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-status") === status));
    });
    resetQueue();
  }

  function targets() {
    if (state.selected.size) return Array.from(state.selected);
    if (state.current) return [Number(state.current.getAttribute("data-id"))];
    return [];
  }

  function onKey(event) {
    if (!state.token || event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = event.target.tagName;
    var typing = (tag === "INPUT" && event.target.type !== "checkbox") || tag === "TEXTAREA" || tag === "SELECT";
    if (typing) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "?") { event.preventDefault(); $("help").showModal(); return; }
    if (!$("queue-view").hidden) {
      var to = { a: "approved", s: "spam", d: "trash", r: "pending" }[event.key];
      if (to) {
        event.preventDefault();
        var ids = targets();
        if (ids.length) decide(ids, to); else notice("Move to a comment first (j/k).");
        return;
      }
      if (event.key === "j") { event.preventDefault(); move(1); }
      else if (event.key === "k") { event.preventDefault(); move(-1); }
      else if (event.key === "x" && state.current) {
        event.preventDefault();
        var id = Number(state.current.getAttribute("data-id"));
        toggleSelect(id, !state.selected.has(id));
      } else if (event.key === "u") { event.preventDefault(); undo(); }
    }
  }

  function start() {
    $("signin-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var token = $("token").value.trim();
      $("signin-error").textContent = "";
      signIn(token).catch(function (err) {
        if (err.status !== 401 && err.status !== 403) $("signin-error").textContent = "Could not sign in: " + err.message;
        else signOut(err.status === 401 ? "That token was not accepted." : "That token is revoked or not allowed here.");
      });
    });
    $("signout").addEventListener("click", function () { signOut("Signed out."); });
    $("help-button").addEventListener("click", function () { $("help").showModal(); });
    document.querySelectorAll(".tabs [data-status]").forEach(function (button) {
      button.addEventListener("click", function () { setStatus(button.getAttribute("data-status")); });
    });
    $("filters").addEventListener("submit", function (event) {
      event.preventDefault();
      state.post = $("filter-post").value.trim();
      state.q = $("filter-q").value.trim();
      state.order = $("filter-order").value;
      resetQueue();
    });
    document.querySelectorAll("[data-bulk]").forEach(function (button) {
      button.addEventListener("click", function () {
        var ids = Array.from(state.selected);
        if (!ids.length) { notice("Select comments first (x, or the boxes)."); return; }
        decide(ids, button.getAttribute("data-bulk"));
      });
    });
    $("undo").addEventListener("click", undo);
    $("pivot-confirm").addEventListener("click", runPivot);
    $("pivot-cancel").addEventListener("click", function () { $("pivot-dialog").close(); });
    $("train").addEventListener("click", train);
    $("keywords-form").addEventListener("submit", saveKeywords);
    document.addEventListener("keydown", onKey);
    window.addEventListener("hashchange", route);
    new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) loadMore();
    }, { rootMargin: "400px" }).observe($("queue-end"));

    var saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) {
      signIn(saved).catch(function (err) { signOut(err.status ? "" : "The server could not be reached."); });
    } else {
      signOut("");
    }
  }

  start();
})();
