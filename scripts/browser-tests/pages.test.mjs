// Browser tests of replyguard's web pages (SPEC §10) in Debian's chromium,
// driven by playwright-core: the embedded form with and without JavaScript,
// the moderation page (keyboard, undo, pivot, a concurrent moderator's 409,
// models and keyword lists) and the demo page. Run by run.sh against a live
// server on SQLite and on PostgreSQL; screenshots go to target/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const BASE = process.env.RG_URL;
const TOKEN = process.env.RG_TOKEN;
const BACKEND = process.env.RG_BACKEND || "server";
const SHOTS = process.env.RG_SCREENSHOTS || "target/screenshots";
// Letters only: the texts carry the post id, and a long number reads as spam.
const POST = `browser-${BACKEND}-${Array.from({ length: 8 }, () => "abcdefghijklmnopqrstuvwxyz"[Math.floor(Math.random() * 26)]).join("")}`;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

let browser;
const problems = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
});

after(async () => {
  await browser?.close();
});

/** A page whose console errors (a CSP refusal, a script error) fail the run. */
async function open(options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    // A 4xx the page handles (409, 422) is logged by the browser as a failed load.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  return { context, page };
}

async function api(method, path, body, headers = {}) {
  const res = await fetch(BASE + path, {
    method,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      Accept: "application/json",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function commentsOfPost(status) {
  const query = new URLSearchParams({ post_id: POST, limit: "200" });
  if (status) query.set("status", status);
  const { body } = await api("GET", `/api/v1/admin/comments?${query}`);
  return body.comments;
}

async function byContent(text) {
  const found = (await commentsOfPost()).find((c) => c.content === text);
  assert.ok(found, `comment "${text}" is stored`);
  return found;
}

async function signIn(page) {
  await page.goto(`${BASE}/admin/`);
  await page.getByLabel("Admin token", { exact: true }).fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#app").waitFor();
  assert.ok(!page.url().includes(TOKEN), "the token is not in the address");
  await page.getByLabel("Post", { exact: true }).fill(POST);
  await page.getByRole("button", { name: "Apply" }).click();
}

/** Waits for a live status message holding `text`; says what showed instead. */
async function expectStatus(page, text) {
  const status = page.getByRole("status").filter({ hasText: text });
  try {
    await status.first().waitFor({ timeout: 10_000 });
  } catch {
    const shown = await page.getByRole("status").allTextContents();
    const errors = await page.locator(".rg-error").allTextContents();
    assert.fail(`expected a status "${text}", the page shows ${JSON.stringify(shown)} ${JSON.stringify(errors)}`);
  }
}

/** A field of the comment form, by its label. */
function field(page, name) {
  return page.getByRole("textbox", { name, exact: true });
}

function row(page, id) {
  return page.locator(`#queue > li[data-id="${id}"]`);
}

/** Moves the keyboard focus (j/k) to the comment `id`. */
async function focusRow(page, id) {
  await row(page, id).waitFor();
  for (let i = 0; i < 50; i++) {
    const current = await page.locator("#queue > li.current").getAttribute("data-id");
    if (current === String(id)) return;
    await page.keyboard.press("j");
  }
  throw new Error(`could not reach comment ${id} with j`);
}

const JS_TEXT = `A thoughtful reply from a reader with JavaScript (${POST}).`;
const PLAIN_TEXT = `The same form without JavaScript works too (${POST}).`;

test("the embedded form with JavaScript: hints, then awaiting moderation", async () => {
  const { context, page } = await open();
  await page.goto(`${BASE}/demo/?post=${encodeURIComponent(POST)}`);
  await page.getByRole("heading", { name: "Leave a Reply" }).waitFor();
  await page.getByText("Your email address will not be published.").waitFor();
  await page.getByText("Required fields are marked").waitFor();
  // The script has taken over the server-rendered section.
  await page.locator(".rg-thread[data-loaded]").waitFor();
  await page.getByText("No comments yet").waitFor();

  await page.getByRole("button", { name: "Post Comment" }).click();
  await expectStatus(page, "Please correct the marked fields.");
  assert.equal(await field(page, "Comment").getAttribute("aria-invalid"), "true");
  assert.equal(await page.evaluate(() => document.activeElement.name), "comment");
  await page.getByText("Name is required.").waitFor();

  await field(page, "Comment").fill(JS_TEXT);
  await field(page, "Name").fill("Reader With Script");
  await field(page, "Email").fill("not-an-address");
  await field(page, "Website").fill("ftp://example.com");
  await page.getByRole("button", { name: "Post Comment" }).click();
  await page.getByText("Enter a valid email address.").waitFor();
  await page.getByText("The website must start with http:// or https://.").waitFor();
  assert.equal((await commentsOfPost()).length, 0, "nothing was sent while the hints showed problems");

  await field(page, "Email").fill("reader.script@example.com");
  await field(page, "Website").fill("https://reader.example.org/blog");
  await page.getByRole("button", { name: "Post Comment" }).click();
  await expectStatus(page, "Your comment is awaiting moderation.");
  assert.equal(await field(page, "Comment").inputValue(), "");
  const stored = await byContent(JS_TEXT);
  assert.equal(stored.status, "pending");
  assert.equal(stored.author_url, "https://reader.example.org/blog");
  await context.close();
});

test("the same markup without JavaScript is a plain form post (303 back)", async () => {
  const { context, page } = await open({ javaScriptEnabled: false });
  await page.goto(`${BASE}/demo/?post=${encodeURIComponent(POST)}`);
  await field(page, "Comment").fill(PLAIN_TEXT);
  await field(page, "Name").fill("Reader Without Script");
  await field(page, "Email").fill("reader.plain@example.com");
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/v1/comments")),
    page.getByRole("button", { name: "Post Comment" }).click(),
  ]);
  assert.equal(response.status(), 303);
  await page.waitForURL(/\/demo\/\?post=.*awaiting_moderation=1#comment-\d+$/);
  await page.getByText("Your comment is awaiting moderation.").waitFor();
  assert.equal((await byContent(PLAIN_TEXT)).status, "pending");
  await context.close();
});

test("the moderator approves with the keyboard, undoes, and sees the shortcuts", async () => {
  const { context, page } = await open();
  await page.goto(`${BASE}/admin/`);
  await page.getByLabel("Admin token", { exact: true }).fill("rg_wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("That token was not accepted.").waitFor();

  await signIn(page);
  const mine = await byContent(JS_TEXT);
  const plain = await byContent(PLAIN_TEXT);
  await row(page, plain.id).waitFor();
  await row(page, mine.id).waitFor();
  // The moderator sees who, where from, the score and why.
  const shown = row(page, mine.id);
  for (const text of ["Reader With Script", "reader.script@example.com", "https://reader.example.org/blog", JS_TEXT]) {
    await shown.getByText(text, { exact: true }).waitFor();
  }
  await shown.getByRole("meter", { name: "Spam score" }).waitFor();
  await shown.getByRole("list", { name: "Reasons" }).waitFor();

  await focusRow(page, mine.id);
  await page.keyboard.press("a");
  await expectStatus(page, `Comment #${mine.id} approved.`);
  await row(page, mine.id).waitFor({ state: "detached" });
  assert.equal((await byContent(JS_TEXT)).status, "approved");

  await page.keyboard.press("u");
  await expectStatus(page, "Undone: 1 comment put back.");
  assert.equal((await byContent(JS_TEXT)).status, "pending");
  // The comment that came back is the current one again.
  await page.locator(`#queue > li.current[data-id="${mine.id}"]`).waitFor();

  await focusRow(page, mine.id);
  await page.keyboard.press("a");
  await row(page, mine.id).waitFor({ state: "detached" });
  assert.equal((await byContent(JS_TEXT)).status, "approved");

  // A click anywhere in a row makes it the one the keys act on, and a ticked
  // box does not swallow them.
  await row(page, plain.id).getByText("Reader Without Script", { exact: true }).click();
  await page.keyboard.press("x");
  const box = row(page, plain.id).getByRole("checkbox", { name: `Select comment ${plain.id}` });
  assert.equal(await box.isChecked(), true);
  await box.click();
  assert.equal(await box.isChecked(), false);
  await page.keyboard.press("x");
  assert.equal(await box.isChecked(), true);
  await page.keyboard.press("x");
  assert.equal(await box.isChecked(), false);

  await page.keyboard.press("?");
  await page.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor();
  await page.keyboard.press("Escape");
  await page.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor({ state: "hidden" });
  await context.close();
});

test("the approved comment shows on the demo page, threaded, with and without JavaScript", async () => {
  const mine = await byContent(JS_TEXT);
  const { context, page } = await open();
  await page.goto(`${BASE}/demo/?post=${encodeURIComponent(POST)}`);
  const item = page.locator(`#comment-${mine.id}`);
  await item.getByText(JS_TEXT).waitFor();
  await item.getByRole("link", { name: "Reader With Script" }).waitFor();
  assert.equal(await item.getByRole("link", { name: "Reader With Script" }).getAttribute("rel"), "nofollow ugc external");
  // The unapproved no-JavaScript comment is not shown.
  assert.equal(await page.getByText(PLAIN_TEXT).count(), 0);

  // A reply through the thread's Reply button.
  await item.getByRole("button", { name: "Reply to Reader With Script" }).click();
  await page.getByRole("heading", { name: /Reply to Reader With Script/ }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.name), "comment");
  const replyText = `A reply in the thread (${POST}).`;
  await field(page, "Comment").fill(replyText);
  await field(page, "Name").fill("Second Reader");
  await field(page, "Email").fill("second.reader@example.com");
  await page.getByRole("button", { name: "Post Comment" }).click();
  await expectStatus(page, "Your comment is awaiting moderation.");
  const reply = await byContent(replyText);
  assert.equal(reply.parent_id, mine.id);
  assert.equal((await api("PATCH", `/api/v1/admin/comments/${reply.id}`, { status: "approved" })).status, 200);


  // The approved author's next reply is published at once: it shows, and the
  // form stays for the next one.
  const second = `Published at once, since my first was approved (${POST}).`;
  await item.getByRole("button", { name: "Reply to Reader With Script" }).click();
  await field(page, "Comment").fill(second);
  await field(page, "Name").fill("Reader With Script");
  await field(page, "Email").fill("reader.script@example.com");
  await page.getByRole("button", { name: "Post Comment" }).click();
  await expectStatus(page, "Your comment has been published.");
  await page.locator(`#comment-${mine.id} .rg-children`).getByText(second).waitFor();
  await page.locator("form.rg-form").waitFor();
  await page.getByRole("heading", { name: "Leave a Reply" }).waitFor();
  await context.close();
  // A new reader (this browser may keep the list it read for 10 s: Cache-Control).
  const reader = await open();
  await reader.page.goto(`${BASE}/demo/?post=${encodeURIComponent(POST)}`);
  await reader.page.locator(`#comment-${mine.id} .rg-children #comment-${reply.id}`).getByText(replyText).waitFor();
  await reader.context.close();

  const plain = await open({ javaScriptEnabled: false });
  await plain.page.goto(`${BASE}/demo/?post=${encodeURIComponent(POST)}`);
  await plain.page.locator(`#comment-${mine.id}`).getByText(JS_TEXT).waitFor();
  await plain.page.locator(`#comment-${mine.id} .rg-children #comment-${reply.id}`).getByText(replyText).waitFor();
  await plain.context.close();
});

test("a spam wave from one IP is marked with the pivot action", async () => {
  const wave = [];
  for (let i = 0; i < 4; i++) {
    const res = await api("POST", "/api/v1/comments", {
      post_id: POST,
      author_name: `Wave ${i}`,
      author_email: `wave${i}@spam.example`,
      content: `Hello again from the wave, message ${i} (${POST})`,
    }, { "X-Forwarded-For": "203.0.113.77" });
    assert.equal(res.status, 201);
    wave.push(res.body.id);
  }
  const bystander = await api("POST", "/api/v1/comments", {
    post_id: POST,
    author_name: "Bystander",
    author_email: "bystander@example.com",
    content: `An ordinary question from elsewhere (${POST})`,
  }, { "X-Forwarded-For": "198.51.100.5" });
  assert.equal(bystander.status, 201);

  const { context, page } = await open();
  await signIn(page);
  await row(page, wave[1]).getByRole("button", { name: "Spam all pending from this IP address" }).click();
  const dialog = page.getByRole("dialog", { name: "Mark a spam wave" });
  await dialog.getByText("4 pending comments come from the IP address 203.0.113.77.").waitFor();
  await dialog.getByRole("button", { name: "Mark 4 as spam" }).click();
  await expectStatus(page, "4 pending comments from the IP address 203.0.113.77 marked as spam.");
  for (const id of wave) await row(page, id).waitFor({ state: "detached" });
  await row(page, bystander.body.id).waitFor();

  const spam = (await commentsOfPost("spam")).map((c) => c.id).sort();
  assert.deepEqual(spam, [...wave].sort());
  assert.equal((await byContent(`An ordinary question from elsewhere (${POST})`)).status, "pending");
  await context.close();
});

test("a concurrent moderator's decision is shown plainly and the row refreshed", async () => {
  const target = await byContent(`An ordinary question from elsewhere (${POST})`);
  const { context, page } = await open();
  await signIn(page);
  await focusRow(page, target.id);
  // Another moderator trashes it while this page still shows it pending.
  assert.equal((await api("PATCH", `/api/v1/admin/comments/${target.id}`, { status: "trash" })).status, 200);
  await page.keyboard.press("s");
  await expectStatus(page, `Comment #${target.id} was changed by another moderator meanwhile`);
  await row(page, target.id).locator(".badge").filter({ hasText: "trash" }).waitFor();
  assert.equal((await byContent(target.content)).status, "trash");
  await context.close();
});

test("models page: the active model, keyword lists and a training job", async () => {
  const { context, page } = await open();
  await signIn(page);
  await page.getByRole("link", { name: "Models" }).click();
  const table = page.locator("#models-table");
  await table.getByText("(built in)").waitFor();
  await table.getByText("Active").waitFor();

  const keyword = `casino-${Date.now()}`;
  await page.getByLabel("Hold for moderation (one word or phrase per line)").fill(`${keyword}\nfree money`);
  await page.getByRole("button", { name: "Save lists" }).click();
  await page.getByText("Saved.").waitFor();
  const lists = (await api("GET", "/api/v1/admin/settings/keywords")).body;
  assert.ok(lists.moderation_keys.includes(keyword), "the list was stored");

  const examples = [];
  for (let i = 0; i < 3; i++) {
    examples.push({ content: `buy cheap replica watches now offer ${i} ${POST}`, label: "spam" });
    examples.push({ content: `thanks for the careful write-up, part ${i} ${POST}`, label: "ham" });
  }
  assert.equal((await api("POST", "/api/v1/admin/training-examples", examples)).status, 200);
  await page.getByRole("button", { name: "Train a new model" }).click();
  await page.getByText(/Training job #\d+ (built model|failed)/).waitFor({ timeout: 180_000 });
  assert.match(await page.locator("#job").textContent(), /built model site-/);
  await table.locator("tbody tr").nth(1).waitFor();

  // Roll back to the built-in model, and forward again.
  const builtIn = table.locator("tbody tr").filter({ hasText: "(built in)" });
  const version = await builtIn.getAttribute("data-version");
  await builtIn.getByRole("button", { name: "Activate" }).click();
  await expectStatus(page, `Model ${version} is now active.`);
  assert.equal((await api("GET", "/api/v1/admin/models")).body.active, version);
  await builtIn.getByText("Active").waitFor();
  await context.close();
});

test("the queue scrolls through every page, newest or oldest first", async () => {
  const post = `${POST}-many`;
  const ids = [];
  for (let i = 0; i < 60; i++) {
    const res = await api("POST", "/api/v1/comments", {
      post_id: post,
      author_name: `Reader ${i}`,
      author_email: `reader${i}@many.example`,
      content: `Comment number ${"abcdefghij"[i % 10]}${"abcdef"[Math.floor(i / 10)]} on the long thread.`,
    });
    assert.equal(res.status, 201);
    ids.push(res.body.id);
  }
  const { context, page } = await open();
  await signIn(page);
  await page.getByLabel("Post", { exact: true }).fill(post);
  await page.getByRole("button", { name: "Apply" }).click();
  await row(page, ids[59]).waitFor();
  assert.equal(await page.locator("#queue > li").first().getAttribute("data-id"), String(ids[59]));
  await page.locator("#queue-end").scrollIntoViewIfNeeded();
  await page.getByText("No more comments.").waitFor();
  assert.equal(await page.locator("#queue > li").count(), 60);

  await page.getByLabel("Order", { exact: true }).selectOption("asc");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForFunction((first) => document.querySelector("#queue > li")?.getAttribute("data-id") === first, String(ids[0]));
  await page.locator("#queue-end").scrollIntoViewIfNeeded();
  await page.getByText("No more comments.").waitFor();
  assert.equal(await page.locator("#queue > li").count(), 60);
  assert.equal(await page.locator("#queue > li").last().getAttribute("data-id"), String(ids[59]));
  await context.close();
});

test("screenshots and phone widths", async () => {
  for (const [name, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    const { context, page } = await open({ viewport });
    await page.goto(`${BASE}/demo/?post=${encodeURIComponent(POST)}`);
    await page.locator(".rg-thread[data-loaded]").waitFor();
    await page.screenshot({ path: `${SHOTS}/${BACKEND}-demo-${name}.png`, fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the demo page fits a ${viewport.width}px screen (overflow ${overflow}px)`);

    await signIn(page);
    await page.getByRole("button", { name: /^All/ }).click();
    await page.locator("#queue > li").first().waitFor();
    await page.screenshot({ path: `${SHOTS}/${BACKEND}-admin-${name}.png`, fullPage: true });
    const adminOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(adminOverflow <= 0, `the admin page fits a ${viewport.width}px screen (overflow ${adminOverflow}px)`);
    await page.getByRole("link", { name: "Models" }).click();
    await page.locator("#models-table tbody tr").first().waitFor();
    const modelsOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(modelsOverflow <= 0, `the models page fits a ${viewport.width}px screen (overflow ${modelsOverflow}px)`);
    await context.close();
  }
});

test("no script errors or Content-Security-Policy refusals on any page", () => {
  assert.deepEqual(problems, []);
});
