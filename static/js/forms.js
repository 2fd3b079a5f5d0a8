// Behaviour that would otherwise sit in inline handlers, which the Content-Security-Policy
// forbids. A form marked data-confirm asks before it does something costly or hard to take back
// (marking costs invoiced, paying for a retry); cancelling the question sends nothing.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
