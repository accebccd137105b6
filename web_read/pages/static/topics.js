// The topic browser: topics and groups from /topics/state, one partition's messages paged by offset.
// Every value from Kafka is put in the page as text (textContent), never as HTML.
"use strict";

// The same key as the pipeline page: one token serves both pages of a tab.
const TOKEN_KEY = "todo-eda-internal-token";
const SETTINGS = ["retention.ms", "retention.bytes", "cleanup.policy"];

const chosen = { topic: null, partition: null, before: null, nextBefore: null };

class PageError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function getJson(url) {
  let response;
  try {
    response = await fetch(url, { headers: authHeaders() });
  } catch (error) {
    throw new PageError(0, "The worker does not answer.");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok) {
    throw new PageError(response.status, body && body.detail);
  }
  return body;
}

function explain(error) {
  switch (error.status) {
    case 401:
      return "This data needs a staff user's token: paste one in the token field (401).";
    case 403:
      return "This token is not a staff user's: the topics need a staff token (403).";
    case 503:
      return `Kafka is unavailable: ${error.message} (503).`;
    default:
      return error.status ? `${error.message} (${error.status}).` : error.message;
  }
}

function showStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = isError ? "status error" : "status muted";
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function cell(row, content, className) {
  const td = element("td", null, className);
  if (content instanceof Node) td.append(content);
  else td.textContent = content === null || content === undefined ? "–" : String(content);
  row.append(td);
  return td;
}

function renderTopics(topics) {
  const body = document.querySelector("#topics tbody");
  body.replaceChildren();
  for (const topic of topics) {
    const row = element("tr");
    row.dataset.topic = topic.name;
    cell(row, topic.name);
    const buttons = element("div");
    for (const p of topic.partitions) {
      const button = element("button", `${p.partition}: ${p.start} – ${p.end}`, "partition");
      button.type = "button";
      button.dataset.topic = topic.name;
      button.dataset.partition = String(p.partition);
      button.title = `Read the last messages of ${topic.name}[${p.partition}]`;
      if (topic.name === chosen.topic && p.partition === chosen.partition) {
        button.classList.add("chosen");
      }
      button.addEventListener("click", () => choose(topic.name, p.partition));
      buttons.append(button);
    }
    cell(row, buttons);
    cell(row, topic.messages, "number");
    for (const name of SETTINGS) cell(row, topic.settings[name]);
    body.append(row);
  }
}

function groupState(group) {
  if (group.state === null) return "state-unknown";
  if (group.lag > 0) return "state-lagging";
  return group.state === "Stable" || group.state === "Empty" ? "state-ok" : "state-unknown";
}

function renderGroups(groups) {
  const body = document.querySelector("#groups tbody");
  body.replaceChildren();
  for (const group of groups) {
    const row = element("tr");
    row.dataset.group = group.group;
    cell(row, group.group);
    cell(row, group.protocol_type || "–");
    cell(row, group.state, groupState(group));
    cell(row, group.members, "number");
    cell(row, group.lag, `number ${groupState(group)}`);
    const lags = element("ul", null, "lags");
    for (const p of group.partitions) {
      const committed = p.committed === null ? "none" : p.committed;
      lags.append(element("li", `${p.topic}[${p.partition}]: ${committed} / ${p.end}, lag ${p.lag}`));
    }
    cell(row, group.partitions.length ? lags : "no committed offsets");
    body.append(row);
  }
}

function decoded(part) {
  // A key, header or value as the JSON decoded it: json, text, hex or null.
  const box = element("span");
  if (part.kind === "null") {
    box.append(element("span", "null", "tombstone"));
    return box;
  }
  if (part.kind !== "text") box.append(element("span", part.kind, "kind"));
  box.append(element("span", part.content));
  if (part.cut) box.append(element("span", ` (cut: ${part.shown} of ${part.size} bytes)`, "cut"));
  return box;
}

function renderValue(value, tombstone) {
  if (tombstone) return element("span", "tombstone (null value)", "tombstone");
  const box = element("div");
  if (value.kind !== "text") box.append(element("span", value.kind, "kind"));
  box.append(element("pre", value.content, "value"));
  if (value.cut) box.append(element("span", `cut: the first ${value.shown} of ${value.size} bytes`, "cut"));
  return box;
}

function renderMessages(page) {
  document.getElementById("messages-section").hidden = false;
  document.getElementById("messages-title").textContent = `Messages of ${page.topic}[${page.partition}]`;
  const range = page.first < page.stop ? `offsets ${page.first} to ${page.stop - 1}` : "no offsets";
  const start = page.at_start ? "the partition's start" : `older from ${page.next_before}`;
  document.getElementById("messages-range").textContent =
    `${range} of ${page.start} – ${page.end}, newest first; ${start}`;
  document.getElementById("older").disabled = page.at_start;
  const body = document.querySelector("#messages tbody");
  body.replaceChildren();
  for (const message of page.messages) {
    const row = element("tr");
    row.dataset.offset = String(message.offset);
    cell(row, message.offset, "number");
    cell(row, message.time).title = `${message.timestamp_type} time, ${message.timestamp} ms`;
    cell(row, decoded(message.key));
    const headers = element("ul", null, "headers");
    for (const header of message.headers) {
      const item = element("li");
      item.append(element("span", `${header.name}: `, "name"), decoded(header.value));
      headers.append(item);
    }
    cell(row, message.headers.length ? headers : "–");
    cell(row, renderValue(message.value, message.tombstone));
    cell(row, message.size, "number");
    body.append(row);
  }
  if (!page.messages.length) {
    const row = element("tr");
    cell(row, "No messages in this range.").colSpan = 6;
    body.append(row);
  }
}

async function loadState() {
  const state = await getJson("/topics/state");
  renderTopics(state.topics);
  renderGroups(state.groups);
}

async function loadMessages() {
  if (chosen.topic === null) return;
  const query = new URLSearchParams();
  if (chosen.before !== null) query.set("before", String(chosen.before));
  const topic = encodeURIComponent(chosen.topic);
  const page = await getJson(`/topics/${topic}/${chosen.partition}/messages?${query}`);
  chosen.nextBefore = page.next_before;
  renderMessages(page);
}

async function run(action) {
  showStatus("Loading…", false);
  try {
    await action();
    showStatus(`Loaded at ${new Date().toLocaleTimeString()}.`, false);
  } catch (error) {
    if (!(error instanceof PageError)) throw error;
    showStatus(explain(error), true);
  }
}

function choose(topic, partition) {
  Object.assign(chosen, { topic, partition, before: null, nextBefore: null });
  for (const button of document.querySelectorAll("button.partition")) {
    const same = button.dataset.topic === topic && button.dataset.partition === String(partition);
    button.classList.toggle("chosen", same);
  }
  run(loadMessages);
}

function start() {
  const field = document.getElementById("token");
  field.value = sessionStorage.getItem(TOKEN_KEY) || "";
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = field.value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    run(async () => {
      await loadState();
      await loadMessages();
    });
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    field.value = "";
  });
  document.getElementById("refresh").addEventListener("click", () =>
    run(async () => {
      await loadState();
      await loadMessages();
    }),
  );
  document.getElementById("older").addEventListener("click", () => {
    if (chosen.nextBefore === null) return;
    chosen.before = chosen.nextBefore;
    run(loadMessages);
  });
  document.getElementById("newest").addEventListener("click", () => {
    chosen.before = null;
    run(loadMessages);
  });
  run(loadState);
}

start();
