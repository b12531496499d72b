// Free text: Enter submits, Shift+Enter breaks the line; the counter says how many characters are left.
(window.fairlabelTypes = window.fairlabelTypes || {}).text = {
  keydown(event, form, { typing }) {
    // Enter while an input method is composing (Chinese, Japanese) picks the characters: it is not a submit.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || !typing) return false;
    const answer = form.querySelector("textarea[name=answer]");
    if (!answer || !answer.value.trim()) return true; // nothing to send yet; keep the empty line out
    form.requestSubmit(form.querySelector(".submit-btn"));
    return true;
  },
};
document.addEventListener("input", (event) => {
  const answer = event.target;
  if (!(answer instanceof HTMLTextAreaElement) || answer.name !== "answer" || !answer.dataset.max) return;
  const counter = document.getElementById(answer.getAttribute("aria-describedby"));
  if (counter) counter.textContent = `${Number(answer.dataset.max) - answer.value.length} characters left.`;
});
