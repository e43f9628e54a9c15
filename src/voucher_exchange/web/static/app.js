// The only script of our own: a print button (inline handlers are blocked by our CSP).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
