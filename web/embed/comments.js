/*
 * replyguard comment section. Add to any page:
 *
 *   <div data-replyguard-post="POST_ID"></div>
 *   <script src="https://comments.example.com/embed/comments.js" async></script>
 *
 * It shows the post's approved comments (threaded) and the "Leave a Reply"
 * form, and posts comments to the replyguard server the script came from
 * (override with data-replyguard-api="https://…"). If the element already
 * holds the plain HTML form (see the README), that form is used as it is, so
 * the section also works without JavaScript.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var scriptBase = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var MAX_PAGES = 20;
  // In the form's order, so the first problem is the first field to fix.
  var RULES = {
    comment: { label: "Comment", required: true, maxBytes: 65525 },
    author: { label: "Name", required: true, max: 245 },
    email: { label: "Email", required: true, max: 100 },
    url: { label: "Website", required: false, max: 200 }
  };
  // Server field names (JSON) → form field names (WordPress).
  var FIELD_OF = { author_name: "author", author_email: "email", author_url: "url", content: "comment" };
  var uid = 0;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function ensureStylesheet(base) {
    var href = base + "/embed/comments.css";
    var links = document.querySelectorAll('link[rel="stylesheet"]');
    for (var i = 0; i < links.length; i++) {
      if (links[i].href === new URL(href, location.href).href) return;
    }
    document.head.appendChild(el("link", { rel: "stylesheet", href: href }));
  }

  function required() {
    return el("span", { className: "rg-required", "aria-hidden": "true", text: "*" });
  }

  /* The same markup as the plain HTML form in the README and on /demo/. */
  function buildSection(container, base, post) {
    var n = ++uid;
    var id = function (name) { return "rg-" + name + "-" + n; };
    var field = function (name, label, control, isRequired) {
      control.id = id(name);
      var lab = el("label", { "for": control.id }, [label + (isRequired ? " " : "")]);
      if (isRequired) lab.appendChild(required());
      return el("p", { className: "rg-field rg-field-" + name }, [lab, control]);
    };
    var form = el("form", { className: "rg-form", action: base + "/api/v1/comments", method: "post" }, [
      el("p", { className: "rg-notes" }, [
        el("span", { id: id("email-notes"), text: "Your email address will not be published." }), " ",
        el("span", { className: "rg-required-note" }, ["Required fields are marked ", required()])
      ]),
      field("comment", "Comment", el("textarea", { name: "comment", cols: "45", rows: "8", maxlength: "65525", required: "", "aria-required": "true" }), true),
      field("author", "Name", el("input", { name: "author", type: "text", size: "30", maxlength: "245", autocomplete: "name", required: "", "aria-required": "true" }), true),
      field("email", "Email", el("input", { name: "email", type: "email", size: "30", maxlength: "100", autocomplete: "email", "aria-describedby": id("email-notes"), required: "", "aria-required": "true" }), true),
      field("url", "Website", el("input", { name: "url", type: "url", size: "30", maxlength: "200", autocomplete: "url" }), false),
      el("p", { className: "rg-honeypot", "aria-hidden": "true" }, [
        el("label", { "for": id("honeypot"), text: "Leave this field empty" }),
        el("input", { id: id("honeypot"), name: "honeypot", type: "text", tabindex: "-1", autocomplete: "off" })
      ]),
      el("p", { className: "rg-submit" }, [
        el("input", { name: "submit", type: "submit", className: "rg-button", value: "Post Comment" }),
        el("input", { type: "hidden", name: "comment_post_ID", value: post }),
        el("input", { type: "hidden", name: "comment_parent", value: "0" }),
        el("input", { type: "hidden", name: "redirect_to", value: location.href.split("#")[0] })
      ])
    ]);
    container.textContent = "";
    container.appendChild(el("div", { className: "rg-thread" }));
    container.appendChild(el("p", { className: "rg-status", role: "status", "aria-live": "polite" }));
    // WordPress's anchor, once per page.
    var anchor = document.getElementById("respond") ? "respond-" + n : "respond";
    container.appendChild(el("div", { className: "rg-respond", id: anchor }, [
      el("h3", { className: "rg-reply-title", text: "Leave a Reply" }),
      form
    ]));
  }

  function formatDate(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return iso;
    return date.toLocaleString(undefined, { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function commentItem(comment, section) {
    var author = /^https?:\/\//i.test(comment.author_url || "")
      ? el("a", { href: comment.author_url, rel: "nofollow ugc external", text: comment.author_name })
      : document.createTextNode(comment.author_name);
    var content = el("div", { className: "rg-content" });
    // content_html is the server's escaped rendering (links marked nofollow ugc).
    content.innerHTML = comment.content_html;
    var reply = el("button", { type: "button", className: "rg-reply-link", text: "Reply" });
    reply.setAttribute("aria-label", "Reply to " + comment.author_name);
    reply.addEventListener("click", function () { section.replyTo(comment, item); });
    var item = el("li", { id: "comment-" + comment.id, className: "rg-comment" }, [
      el("article", {}, [
        el("footer", { className: "rg-meta" }, [
          el("b", { className: "rg-author" }, [author]), " ",
          el("span", { className: "rg-says", text: "says:" }), " ",
          el("time", { datetime: comment.created_at, text: formatDate(comment.created_at) })
        ]),
        content,
        el("p", { className: "rg-actions" }, [reply])
      ])
    ]);
    return item;
  }

  function renderThread(target, comments, section) {
    var shown = {};
    comments.forEach(function (c) { shown[c.id] = true; });
    var children = {};
    comments.forEach(function (c) {
      var parent = c.parent_id && shown[c.parent_id] ? c.parent_id : 0;
      (children[parent] = children[parent] || []).push(c);
    });
    function list(parent, className) {
      if (!children[parent]) return null;
      var ol = el("ol", { className: className });
      children[parent].forEach(function (c) {
        var item = commentItem(c, section);
        var sub = list(c.id, "rg-children");
        if (sub) item.appendChild(sub);
        ol.appendChild(item);
      });
      return ol;
    }
    target.textContent = "";
    var top = list(0, "rg-comment-list");
    if (top) target.appendChild(top);
    else target.appendChild(el("p", { className: "rg-none", text: "No comments yet. Be the first to leave a reply." }));
  }

  function byteLength(text) {
    return new TextEncoder().encode(text).length;
  }

  /* The server's rules, as hints: the server still decides. */
  function check(name, value) {
    var rule = RULES[name];
    var trimmed = value.trim();
    if (rule.required && !trimmed) return rule.label + " is required.";
    if (rule.max && trimmed.length > rule.max) return rule.label + " must be at most " + rule.max + " characters.";
    if (rule.maxBytes && byteLength(trimmed) > rule.maxBytes) return "The comment is too long.";
    if (name === "email" && trimmed && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(trimmed)) return "Enter a valid email address.";
    if (name === "url" && trimmed && !/^https?:\/\/[^\s]+$/i.test(trimmed)) return "The website must start with http:// or https://.";
    return null;
  }

  function Section(container) {
    this.container = container;
    this.post = container.getAttribute("data-replyguard-post");
    this.base = (container.getAttribute("data-replyguard-api") || scriptBase).replace(/\/+$/, "");
    ensureStylesheet(this.base);
    if (!container.querySelector("form.rg-form")) buildSection(container, this.base, this.post);
    this.thread = container.querySelector(".rg-thread");
    this.status = container.querySelector(".rg-status");
    this.respond = container.querySelector(".rg-respond");
    this.form = container.querySelector("form.rg-form");
    this.title = container.querySelector(".rg-reply-title");
    this.form.noValidate = true;
    this.form.addEventListener("submit", this.submit.bind(this));
    var self = this;
    Object.keys(RULES).forEach(function (name) {
      var input = self.form.elements[name];
      if (!input) return;
      // A problem is named when the reader leaves the field, and goes as soon
      // as the text is fixed (while typing, not on blur: a note vanishing on
      // blur would move the button out from under the reader's click).
      input.addEventListener("blur", function () { if (input.value) self.showError(name, check(name, input.value)); });
      input.addEventListener("input", function () {
        if (input.getAttribute("aria-invalid") && !check(name, input.value)) self.showError(name, null);
      });
    });
    this.load();
  }

  Section.prototype.url = function (path) {
    return this.base + path;
  };

  Section.prototype.say = function (message, kind) {
    this.status.textContent = message;
    this.status.className = "rg-status" + (kind ? " rg-status-" + kind : "");
  };

  /* fresh: skip the browser's cached copy (the reader's own comment was just published). */
  Section.prototype.load = function (fresh) {
    var self = this;
    var all = [];
    function page(cursor, n) {
      var path = "/api/v1/posts/" + encodeURIComponent(self.post) + "/comments?limit=200" +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      return fetch(self.url(path), { headers: { Accept: "application/json" }, cache: fresh ? "no-cache" : "default" })
        .then(function (res) {
          if (!res.ok) throw new Error("status " + res.status);
          return res.json();
        })
        .then(function (body) {
          all = all.concat(body.comments);
          if (body.next_cursor && n < MAX_PAGES) return page(body.next_cursor, n + 1);
          return all;
        });
    }
    return page(null, 1).then(function (comments) {
      // The form may sit under a comment (a reply): put it back first, or
      // redrawing the thread would take it away.
      if (self.thread.contains(self.respond)) self.cancelReply(false);
      renderThread(self.thread, comments, self);
      self.thread.setAttribute("data-loaded", "true");
    }, function () {
      // Keep what the page already shows (the server-rendered list, if any).
      if (!self.thread.firstChild) self.say("The comments could not be loaded just now.", "error");
    });
  };

  Section.prototype.replyTo = function (comment, item) {
    var self = this;
    this.form.elements.comment_parent.value = String(comment.id);
    item.querySelector("article").after(this.respond);
    this.title.textContent = "Reply to " + comment.author_name + " ";
    var cancel = el("button", { type: "button", className: "rg-cancel-reply", text: "Cancel reply" });
    cancel.addEventListener("click", function () { self.cancelReply(true); });
    this.title.appendChild(cancel);
    // Messages about this reply show next to its form.
    this.respond.insertBefore(this.status, this.respond.firstChild);
    this.form.elements.comment.focus();
  };

  Section.prototype.cancelReply = function (focus) {
    this.form.elements.comment_parent.value = "0";
    this.title.textContent = "Leave a Reply";
    this.container.appendChild(this.respond);
    this.container.insertBefore(this.status, this.respond);
    if (focus) this.form.elements.comment.focus();
  };

  Section.prototype.showError = function (name, message) {
    var input = this.form.elements[name];
    if (!input) return;
    var holder = input.parentNode;
    var note = holder.querySelector(".rg-error");
    if (!message) {
      input.removeAttribute("aria-invalid");
      if (note) {
        var described = (input.getAttribute("aria-describedby") || "").replace(note.id, "").trim();
        if (described) input.setAttribute("aria-describedby", described); else input.removeAttribute("aria-describedby");
        note.remove();
      }
      return;
    }
    if (!note) {
      note = el("span", { className: "rg-error", id: input.id + "-error" });
      holder.appendChild(note);
      var ids = (input.getAttribute("aria-describedby") || "") + " " + note.id;
      input.setAttribute("aria-describedby", ids.trim());
    }
    note.textContent = message;
    input.setAttribute("aria-invalid", "true");
  };

  Section.prototype.submit = function (event) {
    event.preventDefault();
    var self = this;
    var f = this.form.elements;
    var first = null;
    Object.keys(RULES).forEach(function (name) {
      var message = check(name, f[name].value);
      self.showError(name, message);
      if (message && !first) first = f[name];
    });
    if (first) {
      this.say("Please correct the marked fields.", "error");
      first.focus();
      return;
    }
    var button = f.submit;
    button.disabled = true;
    this.say("Posting your comment…");
    var parent = parseInt(f.comment_parent.value, 10) || 0;
    var body = {
      post_id: this.post,
      author_name: f.author.value,
      author_email: f.email.value,
      author_url: f.url.value,
      content: f.comment.value,
      honeypot: f.honeypot ? f.honeypot.value : "",
      permalink: location.href.split("#")[0]
    };
    if (parent) body.parent_id = parent;
    fetch(this.url("/api/v1/comments"), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) { return { res: res, data: data }; });
    }).then(function (answer) {
      var res = answer.res, data = answer.data;
      if (res.status === 201) {
        f.comment.value = "";
        if (data.status === "approved") {
          self.say("Your comment has been published.", "ok");
          self.load(true).then(function () {
            var mine = document.getElementById("comment-" + data.id);
            if (mine) mine.scrollIntoView({ block: "nearest" });
          });
        } else {
          self.say("Your comment is awaiting moderation.", "ok");
        }
        return;
      }
      var error = data.error || {};
      if (res.status === 422 && error.fields) {
        var focus = null;
        var unmarked = [];
        Object.keys(error.fields).forEach(function (key) {
          var name = FIELD_OF[key] || key;
          var message = error.fields[key].join(" ");
          if (f[name] && Object.prototype.hasOwnProperty.call(RULES, name)) {
            self.showError(name, message);
            if (!focus) focus = f[name];
          } else {
            // No field to mark (the comment replied to, the post id): say it.
            unmarked.push(message);
          }
        });
        self.say(unmarked.length ? unmarked.join(" ") : "Please correct the marked fields.", "error");
        if (focus) focus.focus();
      } else if (res.status === 409) {
        self.say("Duplicate comment detected; it looks as though you’ve already said that!", "error");
      } else if (res.status === 429) {
        var wait = res.headers.get("Retry-After");
        self.say("You are posting comments too quickly. Please wait" + (wait ? " " + wait + " seconds" : "") + " and try again.", "error");
      } else {
        self.say(error.message || "Your comment could not be posted just now. Please try again.", "error");
      }
    }, function () {
      self.say("Your comment could not be sent. Check your connection and try again.", "error");
    }).then(function () {
      button.disabled = false;
    });
  };

  function start() {
    var nodes = document.querySelectorAll("[data-replyguard-post]");
    for (var i = 0; i < nodes.length; i++) {
      if (!nodes[i].rgSection) nodes[i].rgSection = new Section(nodes[i]);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
