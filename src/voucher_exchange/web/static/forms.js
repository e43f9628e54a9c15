// Selling forms that forgive (inline handlers are blocked by our CSP, so this file does it):
// a carrier-billed voucher stops the form before anything is sent; face-value chips fill the
// amount; switching language keeps what was typed (never a code, PIN, password or account number).
(() => {
  const CARRIER = "carrier_billing";
  const SECRET = new Set(["code", "pin", "password", "csrf_token", "check", "account_number", "codes", "batch"]);
  const KEEP = "vx-keep:" + location.pathname;

  const method = (form) => {
    const radio = form.querySelector("input[name=method]:checked");
    if (radio) return radio.value;
    const select = form.querySelector("select[name=method]");
    return select ? select.value : "";
  };
  const guard = (form) => {
    const stopped = method(form) === CARRIER;
    const box = form.querySelector("[data-carrier-stop]");
    if (box) box.hidden = !stopped;
    form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = stopped; });
    return stopped;
  };
  document.querySelectorAll("form[data-acquisition]").forEach((form) => {
    form.addEventListener("change", () => guard(form));
    form.addEventListener("submit", (event) => {
      if (guard(form)) {
        event.preventDefault();
        form.querySelector("[data-carrier-stop]")?.focus();
      }
    });
    guard(form);
  });

  document.addEventListener("click", (event) => {
    const chip = event.target.closest("[data-face]");
    const face = document.getElementById("face");
    if (!chip || !face) return;
    event.preventDefault();
    face.value = chip.dataset.face;
    face.dispatchEvent(new Event("input", { bubbles: true }));
    face.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // The language switch reloads the page: keep the form's values for the page that comes back.
  document.querySelector("form.lang")?.addEventListener("submit", () => {
    const kept = [];
    document.querySelectorAll("main form").forEach((form, index) => {
      for (const el of form.elements) {
        if (!el.name || SECRET.has(el.name) || el.type === "hidden" || el.type === "file") continue;
        if ((el.type === "radio" || el.type === "checkbox") && !el.checked) continue;
        kept.push([index, el.name, el.value]);
      }
    });
    sessionStorage.setItem(KEEP, JSON.stringify(kept));
  });
  // After htmx has wired the page (it does so on DOMContentLoaded), so restored values recalculate.
  window.addEventListener("load", () => {
    const saved = sessionStorage.getItem(KEEP);
    if (!saved) return;
    sessionStorage.removeItem(KEEP);
    const forms = document.querySelectorAll("main form");
    for (const [index, name, value] of JSON.parse(saved)) {
      const form = forms[index];
      if (!form) continue;
      for (const el of form.querySelectorAll(`[name="${CSS.escape(name)}"]`)) {
        if (el.type === "radio" || el.type === "checkbox") el.checked = el.value === value;
        else el.value = value;
        el.dispatchEvent(new Event("change", { bubbles: true }));
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
  });
})();
