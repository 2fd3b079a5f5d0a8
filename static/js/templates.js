// Compose page: "start from a template" fills the subject, body and typology of a saved message.
(function () {
  "use strict";
  const picker = document.getElementById("template-picker");
  const data = document.getElementById("message-templates");
  if (!picker || !data) return;
  const templates = JSON.parse(data.textContent);
  picker.addEventListener("change", function () {
    const chosen = templates.find((t) => String(t.id) === picker.value);
    if (!chosen) return;
    const fields = { id_subject: chosen.subject, id_body: chosen.body, id_typology: String(chosen.typology) };
    for (const [id, value] of Object.entries(fields)) {
      const field = document.getElementById(id);
      if (!field) continue;
      field.value = value;
      field.dispatchEvent(new Event("input", { bubbles: true }));  // counter and preview state follow
      field.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
})();
