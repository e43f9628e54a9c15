// The only script of our own: a print button (inline handlers are blocked by our CSP).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
// Sign-up: "agree to all" ticks every consent box; the boxes stay separate items.
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-check-all]");
  const form = event.target.form;
  if (!form) return;
  const boxes = [...form.querySelectorAll("[data-consent]")];
  if (all) boxes.forEach((box) => { box.checked = all.checked; });
  else if (event.target.matches("[data-consent]")) {
    const master = form.querySelector("[data-check-all]");
    if (master) master.checked = boxes.every((box) => box.checked);
  }
});
// A secret shown once (a new API key, a webhook signing secret) is on the page a POST answered
// with: put the page's own address back, so reloading shows the list instead of sending the form
// again. Copy buttons copy the secret without the person having to select it on a phone.
(() => {
  const once = document.querySelector("[data-shown-once]");
  if (once) history.replaceState(null, "", once.dataset.shownOnce);
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      document.execCommand("copy");
    }
    button.textContent = button.dataset.copied;
  });
})();
// Undoable only by starting over (revoking a key, deleting an endpoint): ask once before sending.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
// A trade's live timeline (_timeline.html): while its event stream is open the server says when
// something changed, so the every-second poll stands down; it asks again once the stream fails.
document.addEventListener("htmx:sseOpen", (event) => { event.target.dataset.live = "1"; });
document.addEventListener("htmx:sseError", (event) => { delete event.target.dataset.live; });
document.addEventListener("htmx:sseClose", (event) => { delete event.target.dataset.live; });
document.addEventListener("htmx:confirm", (event) => {
  const elt = event.detail.elt;
  if (elt.hasAttribute("data-live-poll") && elt.dataset.live && !event.detail.triggeringEvent) event.preventDefault();
});
