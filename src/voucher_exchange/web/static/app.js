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
