// Applies a filter as soon as it is chosen: a form marked data-submit-on-change is sent on each change.
// Without script the form's own button sends it, so this only saves a click.
for (const form of document.querySelectorAll("form[data-submit-on-change]")) {
  form.addEventListener("change", () => form.requestSubmit());
}
