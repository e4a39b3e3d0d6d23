// The "Print" button on invitation cards. A file of its own: the CSP allows no inline script.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
