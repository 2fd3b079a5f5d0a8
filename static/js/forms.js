// Behaviour that would otherwise sit in inline handlers, which the Content-Security-Policy
// forbids: a control marked data-submit-on-change submits its form when it changes.
document.addEventListener("change", (event) => {
  const control = event.target.closest("[data-submit-on-change]");
  if (control && control.form) control.form.requestSubmit();
});
