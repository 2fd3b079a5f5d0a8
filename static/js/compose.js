// The compose page: selection state per recipient model, attachments, and the rule that
// Send is enabled only while the preview matches the form.
(function () {
  "use strict";
  const form = document.getElementById("compose-form");
  if (!form) return;
  const selectionInput = form.querySelector("[name=selection]");
  const sendButton = document.getElementById("send-button");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  // --- Selection: {label: {ids: Set} | {filter: "q=..", count: N}} -------------------------
  const state = {};
  try {
    for (const [label, choice] of Object.entries(JSON.parse(selectionInput.value || "{}"))) {
      state[label] = choice.filter !== undefined ? { filter: choice.filter, count: choice.count || 0 } : { ids: new Set(choice.ids.map(String)) };
    }
  } catch (e) { /* a fresh page */ }

  function entry(label) { return state[label] || (state[label] = { ids: new Set() }); }
  function size(choice) { return choice.filter !== undefined ? choice.count : choice.ids.size; }

  function save() {
    const out = {};
    let total = 0;
    for (const [label, choice] of Object.entries(state)) {
      const n = size(choice);
      total += n;
      const badge = document.querySelector('[data-count-for="' + label + '"]');
      if (badge) badge.textContent = n;
      if (!n) continue;
      out[label] = choice.filter !== undefined ? { filter: choice.filter, count: choice.count } : { ids: Array.from(choice.ids) };
    }
    document.getElementById("selection-total").textContent = total;
    selectionInput.value = Object.keys(out).length ? JSON.stringify(out) : "";
    summarize();
    changed();
  }

  // --- What is selected, per model, in words ------------------------------------------
  const summary = document.getElementById("selection-summary");
  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, (whole, key) => (values[key] !== undefined ? values[key] : whole));
  }
  function summarize() {
    summary.textContent = "";
    for (const tab of document.querySelectorAll(".tab")) {
      const choice = state[tab.dataset.label];
      const n = choice ? size(choice) : 0;
      if (!n) continue;
      let text;
      if (choice.filter === undefined) text = summary.dataset.pickedText;
      else if (choice.described) text = summary.dataset.matchingText;
      else text = summary.dataset.everyoneText;
      const li = document.createElement("li");
      li.textContent = fill(text, { model: tab.dataset.name, n: n, filter: choice.described || "" });
      summary.appendChild(li);
    }
    summary.hidden = !summary.children.length;
  }

  // The filter shown in the picker, in words: "City: Roma".
  function describeFilter(picker) {
    const parts = [];
    for (const field of picker.querySelectorAll(".filters input, .filters select")) {
      const value = field.tagName === "SELECT" ? (field.selectedOptions[0] && field.value ? field.selectedOptions[0].textContent : "") : field.value.trim();
      if (!value) continue;
      const label = field.closest("label");
      const name = label ? label.firstChild.textContent.trim() : field.name;
      parts.push(name + " “" + value + "”");
    }
    return parts.join(", ");
  }

  // --- Each tab keeps its filter: switching back shows what was selected ----------------
  const lastQuery = {};
  document.body.addEventListener("htmx:configRequest", function (event) {
    const tab = event.detail.elt.closest && event.detail.elt.closest(".tab");
    if (!tab) return;
    const choice = state[tab.dataset.label];
    const query = lastQuery[tab.dataset.label] !== undefined ? lastQuery[tab.dataset.label]
      : (choice && choice.filter) || "";
    if (query) event.detail.path = event.detail.path.split("?")[0] + "?" + query;
  });

  function paint() {
    const picker = document.querySelector("#picker .picker");
    if (!picker) return;
    const choice = entry(picker.dataset.label);
    const all = choice.filter !== undefined && choice.filter === picker.dataset.filter;
    const rows = picker.querySelectorAll("input.row");
    for (const box of rows) {
      box.checked = all || (choice.ids && choice.ids.has(box.value));
      box.disabled = all;
    }
    const pageBox = picker.querySelector(".select-page");
    if (pageBox) { pageBox.checked = rows.length > 0 && Array.from(rows).every((b) => b.checked); pageBox.disabled = all; }
    const allNote = picker.querySelector(".all-selected");
    if (allNote) allNote.hidden = !all;
    const allButton = picker.querySelector(".select-all");
    if (allButton) allButton.textContent = all ? allButton.dataset.clearText || "Clear" : allButton.dataset.selectText || allButton.textContent;
  }

  document.addEventListener("change", function (event) {
    const picker = event.target.closest(".picker");
    if (!picker) return;
    const choice = entry(picker.dataset.label);
    if (choice.filter !== undefined) return;
    if (event.target.matches("input.row")) {
      event.target.checked ? choice.ids.add(event.target.value) : choice.ids.delete(event.target.value);
    } else if (event.target.matches(".select-page")) {
      for (const box of picker.querySelectorAll("input.row")) {
        event.target.checked ? choice.ids.add(box.value) : choice.ids.delete(box.value);
      }
    } else { return; }
    paint(); save();
  });

  // A tap on a row's name or address ticks its box (the box alone is a small target on a phone).
  document.addEventListener("click", function (event) {
    const row = event.target.closest(".picker tbody tr");
    if (!row || event.target.closest("input, a, button, label")) return;
    const box = row.querySelector("input.row");
    if (box && !box.disabled) box.click();
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest(".select-all");
    if (!button) return;
    const picker = button.closest(".picker");
    const label = picker.dataset.label;
    const current = entry(label);
    if (current.filter !== undefined && current.filter === picker.dataset.filter) {
      state[label] = { ids: new Set() };
    } else {
      // "Everyone matching" travels as the filter query string, never as N ids.
      state[label] = { filter: picker.dataset.filter, count: Number(button.dataset.count), described: describeFilter(picker) };
    }
    paint(); save();
  });

  document.getElementById("clear-selection").addEventListener("click", function () {
    for (const label of Object.keys(state)) state[label] = { ids: new Set() };
    paint(); save();
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "picker") {
      const picker = event.detail.target.querySelector(".picker");
      const button = picker && picker.querySelector(".select-all");
      if (button) { button.dataset.selectText = button.textContent.trim(); button.dataset.clearText = picker.dataset.clearText || "✕ " + button.textContent.trim(); }
      if (picker) lastQuery[picker.dataset.label] = picker.dataset.query;
      // The picker is not a live region (it would be re-read on every keystroke): only its count is said.
      const count = picker && picker.querySelector(".match-count");
      document.getElementById("picker-status").textContent = count ? count.textContent.trim() : "";
      for (const tab of document.querySelectorAll(".tab")) {
        const active = Boolean(picker && tab.dataset.label === picker.dataset.label);
        tab.classList.toggle("active", active);
        tab.setAttribute("aria-selected", active ? "true" : "false");
      }
      paint();
    }
    if (event.detail.target.id === "preview") {
      const ok = event.detail.target.querySelector("[data-ok='1']");
      previewed = ok ? requested : null;
      changed();
    }
  });

  // --- Saved audiences: save the selection under a name, load it back --------------------
  const audienceBox = document.getElementById("audiences");
  if (audienceBox) {
    const select = document.getElementById("audience-select");
    const nameInput = document.getElementById("audience-name");
    const status = document.getElementById("audience-status");
    const renameButton = document.getElementById("audience-rename");
    const deleteButton = document.getElementById("audience-delete");
    const urlFor = (pattern, id) => pattern.replace("/0/", "/" + encodeURIComponent(id) + "/");
    const say = (text, bad) => { status.textContent = text; status.classList.toggle("error", Boolean(bad)); };
    const chosen = () => select.selectedOptions[0];
    function refreshButtons() {
      const option = chosen();
      renameButton.hidden = !(option && option.value && option.dataset.mine);
      deleteButton.hidden = !(option && option.value && option.dataset.mayDelete);
    }
    function fillList(list, id) {
      select.length = 1;
      for (const a of list) {
        const option = new Option(a.owner ? a.name + " (" + a.owner + ")" : a.name, a.id);
        option.dataset.mine = a.mine ? "1" : "";
        option.dataset.mayDelete = a.may_delete ? "1" : "";
        select.add(option);
      }
      select.value = id ? String(id) : "";
      refreshButtons();
    }
    async function call(url, data) {
      const init = data ? { method: "POST", body: data, headers: { "X-CSRFToken": csrf } } : {};
      const response = await fetch(url, Object.assign({ credentials: "same-origin" }, init));
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || audienceBox.dataset.failedText);
      return body;
    }
    select.addEventListener("change", refreshButtons);
    refreshButtons();
    document.getElementById("audience-save").addEventListener("click", async function () {
      const described = {};
      for (const [label, choice] of Object.entries(state)) if (choice.described) described[label] = choice.described;
      const data = new FormData();
      data.append("name", nameInput.value);
      data.append("selection", selectionInput.value || "{}");
      data.append("described", JSON.stringify(described));
      try { const body = await call(audienceBox.dataset.listUrl, data); fillList(body.audiences, body.id); say(body.message); }
      catch (error) { say(error.message, true); }
    });
    document.getElementById("audience-load").addEventListener("click", async function () {
      const option = chosen();
      if (!option || !option.value) { say(audienceBox.dataset.chooseText, true); return; }
      try {
        const body = await call(urlFor(audienceBox.dataset.oneUrl, option.value));
        for (const label of Object.keys(state)) state[label] = { ids: new Set() };
        for (const [label, choice] of Object.entries(body.selection)) {
          state[label] = choice.filter !== undefined
            ? { filter: choice.filter, count: choice.count, described: choice.described || undefined }
            : { ids: new Set(choice.ids.map(String)) };
          delete lastQuery[label];  // the tab opens on the audience's filter
        }
        nameInput.value = body.name;
        paint(); save();
        const active = document.querySelector(".tab.active");
        if (active && window.htmx) window.htmx.trigger(active, "click");
        say(fill(audienceBox.dataset.loadedText, { name: body.name }));
      } catch (error) { say(error.message, true); }
    });
    renameButton.addEventListener("click", async function () {
      const option = chosen();
      const data = new FormData();
      data.append("name", nameInput.value);
      try { const body = await call(urlFor(audienceBox.dataset.renameUrl, option.value), data); fillList(body.audiences, body.id); say(body.message); }
      catch (error) { say(error.message, true); }
    });
    deleteButton.addEventListener("click", async function () {
      const option = chosen();
      const name = option.textContent;
      if (!window.confirm(fill(audienceBox.dataset.deleteText, { name: name }))) return;
      try { const body = await call(urlFor(audienceBox.dataset.deleteUrl, option.value), new FormData()); fillList(body.audiences); say(body.message); }
      catch (error) { say(error.message, true); }
    });
  }

  // --- Preview must be current before Send ---------------------------------------------
  let previewed = null;
  let requested = null;
  function fingerprint() {
    const data = new FormData(form);
    data.delete("csrfmiddlewaretoken");
    data.delete("idempotency_key");
    data.delete("billee_model");  // looking for a billee changes nothing; choosing one does
    data.delete("billee_q");
    return JSON.stringify(Array.from(data.entries()));
  }
  function changed() {
    const current = previewed !== null && previewed === fingerprint();
    sendButton.disabled = !current;
    document.getElementById("send-hint").hidden = current;
  }
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt.id === "preview-button") requested = fingerprint();
  });
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", function () {
    // One click sends once; the idempotency key covers a browser retry.
    setTimeout(function () { sendButton.disabled = true; }, 0);
  });

  // --- The billee search: Enter searches (it must never send the form) -----------------
  const billeeSearch = document.getElementById("billee-q");
  if (billeeSearch) {
    billeeSearch.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      billeeSearch.dispatchEvent(new Event("billee-search"));
    });
  }

  // --- Subject only when a chosen method needs one -------------------------------------
  const subjectField = document.getElementById("subject-field");
  function toggleSubject() {
    const needed = Array.from(form.querySelectorAll("[name=methods]")).some((b) => b.checked && b.dataset.needsSubject);
    subjectField.hidden = !needed;
    const email = Array.from(form.querySelectorAll("[name=methods]")).some((b) => b.checked && b.dataset.kind === "email");
    document.getElementById("format-field").hidden = !email;
  }
  form.addEventListener("change", toggleSubject);
  toggleSubject();

  // --- Attachments: checked here first, then uploaded one by one -----------------------
  const zone = document.getElementById("dropzone");
  const list = document.getElementById("attachment-list");
  const maxBytes = Number(zone.dataset.maxBytes);
  const extensions = zone.dataset.extensions.split(",");

  function note(text, isError) {
    const li = document.createElement("li");
    li.textContent = text;
    if (isError) li.className = "error";
    list.appendChild(li);
    return li;
  }

  async function upload(file) {
    const ext = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    if (!extensions.includes(ext)) { note(file.name + ": " + zone.dataset.badType.replace("%s", extensions.join(", ")), true); return; }
    if (file.size > maxBytes) { note(file.name + ": " + zone.dataset.tooBig, true); return; }
    const line = note(file.name + " …");
    const body = new FormData();
    body.append("file", file);
    const response = await fetch(zone.dataset.upload, { method: "POST", body: body, headers: { "X-CSRFToken": csrf } });
    const data = await response.json().catch(() => ({ error: response.statusText }));
    line.textContent = "";
    if (!response.ok) { line.className = "error"; line.textContent = file.name + ": " + data.error; return; }
    line.dataset.id = data.id;
    if (data.thumbnail) {
      const img = document.createElement("img");
      img.src = data.thumbnail; img.alt = ""; img.className = "thumb";
      line.appendChild(img);
    }
    line.appendChild(document.createTextNode(data.name + " (" + data.size + ") "));
    const hidden = document.createElement("input");
    hidden.type = "hidden"; hidden.name = "attachments"; hidden.value = data.id;
    line.appendChild(hidden);
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "link remove"; remove.textContent = zone.dataset.removeText;
    line.appendChild(remove);
    changed();
  }

  list.addEventListener("click", function (event) {
    if (event.target.matches(".remove")) { event.target.closest("li").remove(); changed(); }
  });
  document.getElementById("file-input").addEventListener("change", function (event) {
    Array.from(event.target.files).forEach(upload);
    event.target.value = "";
  });
  zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("over");
    Array.from(event.dataTransfer.files).forEach(upload);
  });

  save();
})();
