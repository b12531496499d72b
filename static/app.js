// Behaviour shared by every page. Loaded as a file: the Content-Security-Policy allows no inline script.

// A form with data-confirm asks before it is sent (closing a pool, deleting an account).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (message && !window.confirm(message)) event.preventDefault();
});

// On a narrow screen the top bar's links fold into a Menu button (the CSS decides when; see app.css).
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".menu-toggle");
  const header = document.querySelector(".topbar");
  if (!toggle || !header) return;
  toggle.hidden = false;
  header.classList.add("has-menu");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    header.classList.toggle("menu-open", open);
  });
});

// A table or chart wider than its box scrolls inside it (app.css); a keyboard can scroll it (it takes focus) and
// a screen reader hears its name (a table's caption, a chart's title, or the nearest heading before it).
const markScrollingBoxes = () => {
  document.querySelectorAll("table.table, .scroll-box").forEach((box) => {
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls && !box.hasAttribute("tabindex")) {
      box.setAttribute("tabindex", "0");
      if (box.tagName !== "TABLE") box.setAttribute("role", "region");
      const own = box.querySelector("caption, svg > title");
      let heading = null;
      for (let node = box.previousElementSibling; node && !heading; node = node.previousElementSibling) {
        if (/^H[1-6]$/.test(node.tagName)) heading = node;
      }
      if (!own && !heading && box.parentElement) {
        heading = box.closest(".card") && box.closest(".card").querySelector("h2, h3");
      }
      const name = own ? own.textContent : heading ? heading.textContent : "Table";
      box.setAttribute("aria-label", `${name.trim()} (scrolls sideways)`);
    }
  });
};
document.addEventListener("DOMContentLoaded", markScrollingBoxes);
window.addEventListener("resize", markScrollingBoxes);
document.addEventListener("htmx:afterSettle", markScrollingBoxes);

// Moments come from the server in UTC (<time datetime=…>); shown here in the reader's own zone and format.
const TIME_FORMATS = {
  minutes: { dateStyle: "medium", timeStyle: "short" },
  seconds: { dateStyle: "medium", timeStyle: "medium" },
  date: { dateStyle: "medium" },
  time: { timeStyle: "medium" },
};
const localizeTimes = () => {
  document.querySelectorAll("time[datetime][data-precision]:not([data-local])").forEach((node) => {
    const moment = new Date(node.getAttribute("datetime"));
    const format = TIME_FORMATS[node.dataset.precision];
    if (Number.isNaN(moment.getTime()) || !format) return;
    node.title = node.textContent;
    node.textContent = new Intl.DateTimeFormat(undefined, format).format(moment);
    node.dataset.local = "true";
  });
};
document.addEventListener("DOMContentLoaded", localizeTimes);
document.addEventListener("htmx:afterSettle", localizeTimes);
