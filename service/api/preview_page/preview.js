// Card preview: lists the demo patients, asks the service for their cards and renders them the way an EHR
// side panel shows CDS Hooks cards. No framework, no network beyond this service.
//
// Safety: card text is data. renderMarkdown() escapes every HTML character FIRST and only then adds its
// own tags, so its output is the one string ever given to innerHTML; everything else uses textContent.
"use strict";

const INDICATORS = { info: "Info", warning: "Warning", critical: "Critical" };

function escapeHtml(text) {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

// **bold** and _italic_ on already escaped text (underscores inside words, as in rule_id, stay as they are).
function renderInline(escaped) {
  return escaped
    .replace(/\*\*(?=\S)(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[\s(])_(?=\S)([^_]+?)_(?=$|[\s).,;:!?])/g, "$1<em>$2</em>");
}

const TABLE_SEPARATOR = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$/;
const BULLET = /^[-*] +(.*)$/;
const NUMBERED = /^(\d+)\. +(.*)$/;

// The cells of one pipe-table row; "\|" is a pipe inside a cell.
function tableCells(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function isTableStart(lines, i) {
  return lines[i].trim().startsWith("|") && i + 1 < lines.length && TABLE_SEPARATOR.test(lines[i + 1].trim());
}

function renderTable(lines, i, out) {
  const header = tableCells(lines[i]);
  const heading = header.map((cell) => `<th>${renderInline(cell)}</th>`).join("");
  let html = `<div class="table-wrap"><table><thead><tr>${heading}</tr></thead><tbody>`;
  i += 2;
  while (i < lines.length && lines[i].trim().startsWith("|")) {
    const cells = tableCells(lines[i]);
    // data-label (escaped text: quotes included) lets the narrow panel show each row as a block.
    html += "<tr>" + header.map((label, k) => `<td data-label="${label}">${renderInline(cells[k] ?? "")}</td>`).join("") + "</tr>";
    i += 1;
  }
  out.push(html + "</tbody></table></div>");
  return i;
}

function renderList(lines, i, out, pattern, tag) {
  const items = [];
  const first = lines[i].trim().match(pattern);
  while (i < lines.length) {
    const match = lines[i].trim().match(pattern);
    if (!match) break;
    items.push(`<li>${renderInline(match[match.length - 1])}</li>`);
    i += 1;
  }
  const start = tag === "ol" && first[1] !== "1" ? ` start="${Number(first[1])}"` : "";
  out.push(`<${tag}${start}>${items.join("")}</${tag}>`);
  return i;
}

// A tiny, safe markdown renderer: paragraphs, **bold**, _italic_, "- " lists, "1. " lists, pipe tables.
function renderMarkdown(markdown) {
  const lines = escapeHtml(markdown ?? "").replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i].trim();
    if (line === "") {
      i += 1;
    } else if (isTableStart(lines, i)) {
      i = renderTable(lines, i, out);
    } else if (BULLET.test(line)) {
      i = renderList(lines, i, out, BULLET, "ul");
    } else if (NUMBERED.test(line)) {
      i = renderList(lines, i, out, NUMBERED, "ol");
    } else {
      const paragraph = [];
      while (i < lines.length) {
        const next = lines[i].trim();
        if (next === "" || isTableStart(lines, i) || BULLET.test(next) || NUMBERED.test(next)) break;
        paragraph.push(next);
        i += 1;
      }
      out.push(`<p>${renderInline(paragraph.join(" "))}</p>`);
    }
  }
  return out.join("\n");
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// Only http(s) URLs become links; anything else (javascript:, data:) is shown as text.
function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function externalLink(label, url) {
  const href = safeUrl(url);
  if (!href) return el("span", { text: label });
  return el("a", { href, target: "_blank", rel: "noopener noreferrer", text: label });
}

let cardCount = 0;

function renderSuggestions(card, id) {
  const suggestions = card.suggestions ?? [];
  if (suggestions.length === 0) return null;
  const single = card.selectionBehavior === "at-most-one";
  const fieldset = el("fieldset", { className: "suggestions" }, el("legend", { text: "Suggestions" }));
  suggestions.forEach((suggestion, k) => {
    const inputId = `${id}-suggestion-${k}`;
    const input = el("input", { type: single ? "radio" : "checkbox", id: inputId, name: `${id}-suggestions` });
    const label = el("label", { for: inputId, text: suggestion.label });
    const description = (suggestion.actions ?? []).map((a) => a.description).filter(Boolean).join("; ");
    fieldset.append(
      el("div", { className: "suggestion" }, input, label,
        description ? el("p", { className: "suggestion-action", text: description }) : null),
    );
  });
  const note = el("p", { className: "preview-note", role: "status" });
  const accept = el("button", { type: "button", className: "button primary", text: "Accept selected" });
  accept.addEventListener("click", () => {
    const chosen = fieldset.querySelectorAll("input:checked").length;
    note.textContent = chosen
      ? `Preview: ${chosen} suggestion(s) would be accepted; nothing is ordered or sent.`
      : "Select a suggestion first.";
  });
  fieldset.append(el("div", { className: "actions" }, accept), note);
  return fieldset;
}

function renderDismiss(card, id, article) {
  const reasons = card.overrideReasons ?? [];
  if (reasons.length === 0) return null;
  const selectId = `${id}-dismiss`;
  const select = el("select", { id: selectId }, el("option", { value: "", text: "Choose a reason…" }));
  reasons.forEach((reason, k) => select.append(el("option", { value: String(k), text: reason.display ?? reason.code })));
  const dismiss = el("button", { type: "button", className: "button", text: "Dismiss", disabled: "" });
  select.addEventListener("change", () => { dismiss.disabled = select.value === ""; });
  dismiss.addEventListener("click", () => {
    const reason = reasons[Number(select.value)];
    const collapsed = el("p", {
      className: "dismissed",
      text: `Dismissed (${reason.display ?? reason.code}): ${card.summary}. Preview only, no feedback sent.`,
    });
    article.replaceChildren(collapsed);
    article.classList.add("is-dismissed");
  });
  return el("div", { className: "dismiss" }, el("label", { for: selectId, text: "Dismiss with reason" }), select, dismiss);
}

// Times come from the service in UTC (RFC 3339, "+00:00"): shown to the minute, whatever the browser's zone.
function utcMinute(time) {
  return `${String(time).slice(0, 10)} ${String(time).slice(11, 16)} UTC`;
}

function reasonText(reason) {
  const coded = reason.display ?? reason.code;
  if (coded && reason.comment) return `${coded}, with a comment`;
  return coded ?? (reason.comment ? "a comment (its text is not kept)" : "a reason");
}

// Why an EHR calling the hook now would not see this card: the override, the window's end and what ends
// it sooner (the service's suppression, issue 13).
function renderHeldBack(held) {
  return el("div", { className: "held-back", role: "note" },
    el("p", { className: "held-back-title", text: "Held back: an EHR would not see this card now" }),
    el("p", { text: `Overridden ${utcMinute(held.overriddenOn)} (${reasonText(held.reason)}); held back ` +
      `until ${utcMinute(held.until)}.` }),
    el("p", { className: "held-back-ends", text: "Shown again sooner if a more severe card or new evidence " +
      "(a newer result, a new diagnosis or medication) comes; a critical card is never held back." }));
}

function renderCard(card, held) {
  cardCount += 1;
  const id = `card-${cardCount}`;
  const indicator = INDICATORS[card.indicator] ? card.indicator : "info";
  const article = el("article", {
    className: `card indicator-${indicator}${held ? " is-held-back" : ""}`,
    "data-indicator": indicator,
    "aria-labelledby": `${id}-summary`,
  });
  const header = el("header", { className: "card-header" },
    el("span", { className: `badge badge-${indicator}`, text: INDICATORS[indicator] }),
    el("h3", { id: `${id}-summary`, className: "card-summary", text: card.summary }));
  const detail = el("div", { className: "card-detail" });
  detail.innerHTML = renderMarkdown(card.detail ?? ""); // escaped first: see renderMarkdown
  const links = card.links ?? [];
  const linkList = links.length
    ? el("div", { className: "card-links" }, el("h4", { text: "Learn more" }),
      el("ul", {}, ...links.map((link) => el("li", {}, externalLink(link.label, link.url)))))
    : null;
  const source = card.source ?? {};
  const sourceLine = el("p", { className: "card-source" }, "Source: ",
    source.url ? externalLink(source.label ?? source.url, source.url) : el("span", { text: source.label ?? "" }));
  article.append(held ? renderHeldBack(held) : "", header, detail, renderSuggestions(card, id) ?? "", linkList ?? "",
    el("footer", { className: "card-footer" }, sourceLine, renderDismiss(card, id, article) ?? ""));
  return article;
}

// Every card is shown (a preview); those the hook would hold back are marked, and the panel says when an
// EHR would see none of them or when that is unknown.
function renderCards(response) {
  const cards = response.cards ?? [];
  const heldBack = new Map((response.heldBack ?? []).map((held) => [held.card, held]));
  const container = document.getElementById("cards");
  container.replaceChildren(...cards.map((card) => renderCard(card, heldBack.get(card.uuid))));
  const held = cards.filter((card) => heldBack.has(card.uuid)).length;
  let note = null;
  if (cards.length === 0) {
    note = el("p", { className: "no-cards", text: "No cards: the service has nothing to say about this patient." });
  } else if (response.suppression === "unavailable") {
    note = el("p", { className: "suppression-note is-unknown", role: "note",
      text: "Whether an EHR would see these cards now is unknown: the card history did not answer." });
  } else if (held === cards.length) {
    note = el("p", { className: "suppression-note", role: "note", text: "An EHR would show no card now: " +
      `${held === 1 ? "this card was" : "these cards were"} overridden with a reason and ${held === 1 ? "is" : "are"} held back (see below).` });
  }
  if (note) container.prepend(note);
  const counted = cards.length === 1 ? "1 card" : `${cards.length} cards`;
  setStatus(held ? `${counted}, ${held} held back from the EHR` : counted);
}

function setStatus(text, isError = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("is-error", isError);
}

let latest = 0;

async function showPatient(patientId, patients) {
  const request = ++latest;
  const patient = patients.find((p) => p.id === patientId);
  document.getElementById("patient-description").textContent = patient ? patient.description : "";
  document.getElementById("patient-reference").textContent = patient ? `Patient/${patient.id}` : "";
  const container = document.getElementById("cards");
  const raw = document.getElementById("raw-json");
  if (!patient) {
    container.replaceChildren();
    raw.textContent = "Pick a patient first.";
    setStatus("Pick a patient to see the cards.");
    return;
  }
  history.replaceState(null, "", `#${encodeURIComponent(patientId)}`);
  container.setAttribute("aria-busy", "true");
  setStatus("Asking the service…");
  try {
    const response = await fetch(`/preview/api/cards/${encodeURIComponent(patientId)}`, { method: "POST" });
    const body = await response.json();
    if (request !== latest) return; // another patient was picked meanwhile
    raw.textContent = JSON.stringify(body, null, 2);
    if (!response.ok) throw new Error(body.issue?.[0]?.details?.text ?? `HTTP ${response.status}`);
    renderCards(body);
  } catch (error) {
    if (request !== latest) return;
    container.replaceChildren();
    setStatus(`The service did not answer: ${error.message}`, true);
  } finally {
    if (request === latest) container.removeAttribute("aria-busy");
  }
}

async function start() {
  const select = document.getElementById("patient");
  let patients;
  try {
    const response = await fetch("/preview/api/patients");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    patients = await response.json();
  } catch (error) {
    select.replaceChildren(el("option", { value: "", text: "Demo patients unavailable" }));
    setStatus(`Could not load the demo patients: ${error.message}`, true);
    return;
  }
  select.replaceChildren(el("option", { value: "", text: "Choose a demo patient…" }),
    ...patients.map((p) => el("option", { value: p.id, text: p.title })));
  select.disabled = false;
  select.addEventListener("change", () => showPatient(select.value, patients));
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (patients.some((p) => p.id === wanted)) {
    select.value = wanted;
    showPatient(wanted, patients);
  }
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
