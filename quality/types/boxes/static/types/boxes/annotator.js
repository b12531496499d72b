// Boxes on an image: a drag (mouse, pen or finger) draws a box, a click or tap selects the box under it; keys 1-9
// set the selected box's label, the arrows nudge it (Shift: ten times as far), Delete removes it, Enter submits.
// The boxes live in the form's hidden `answer` field as JSON, so a new task arriving by htmx starts empty.
(() => {
  const CLICK_PX = 4; // a pointer that never got this far from where it went down clicked rather than drew
  const MIN_SIDE_PX = 3; // a box must be at least this wide and tall on screen
  const STEP = 0.01; // a nudge: 1% of the image; Shift for 10%
  const TAG_PX = 20; // a box's tag is this tall: it goes inside a box that starts nearer the image's top
  const COLOURS = 8; // .box-c0 ... .box-c7 in app.css, by the label's place in the pool's list

  const round = (value) => Math.round(value * 1e6) / 1e6; // the server keeps 6 decimals
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  const parts = (root) => ({
    answer: root.querySelector(".boxes-answer"),
    image: root.querySelector(".boxes-image"),
    surface: root.querySelector(".boxes-surface"),
    list: root.querySelector(".boxes-list"),
    status: root.querySelector(".boxes-status"),
    labels: [...root.querySelectorAll(".box-label")],
  });
  const boxesOf = (root) => JSON.parse(parts(root).answer.value);
  const selectedOf = (root) => (root.dataset.selected === undefined ? -1 : Number(root.dataset.selected));
  // The label a new box gets: the last one chosen in this task, else the pool's first.
  const currentLabel = (root) => root.dataset.current || parts(root).labels[0].dataset.label;
  const colourOf = (root, label) => {
    const place = parts(root).labels.findIndex((button) => button.dataset.label === label);
    return `box-c${Math.max(place, 0) % COLOURS}`;
  };
  const place = (element, box) => {
    // element.style is allowed by the Content-Security-Policy; a style attribute in markup is not.
    element.style.left = `${box.x * 100}%`;
    element.style.top = `${box.y * 100}%`;
    element.style.width = `${box.w * 100}%`;
    element.style.height = `${box.h * 100}%`;
  };
  const button = (className, text, label) => {
    const element = document.createElement("button");
    element.type = "button";
    element.className = `btn ${className}`;
    element.textContent = text;
    if (label) element.setAttribute("aria-label", label);
    return element;
  };

  const render = (root) => {
    const { surface, list, labels, image } = parts(root);
    const boxes = boxesOf(root);
    const selected = selectedOf(root);
    surface.replaceChildren(
      ...boxes.map((box, index) => {
        const shape = document.createElement("div");
        shape.className = `box-shape ${colourOf(root, box.label)}${index === selected ? " box-selected" : ""}`;
        place(shape, box);
        if (box.y * image.clientHeight < TAG_PX) shape.dataset.top = "";
        const tag = document.createElement("span");
        tag.className = "box-tag";
        tag.textContent = `${index + 1} ${box.label}`;
        shape.append(tag);
        return shape;
      }),
    );
    list.replaceChildren(
      ...boxes.map((box, index) => {
        const item = document.createElement("li");
        item.className = `box-item ${colourOf(root, box.label)}`;
        const pick = button("box-pick", `Box ${index + 1}: ${box.label}`);
        pick.dataset.index = index;
        pick.setAttribute("aria-pressed", index === selected ? "true" : "false");
        const remove = button("box-remove", "Remove", `Remove box ${index + 1} (${box.label})`);
        remove.dataset.index = index;
        item.append(pick, remove);
        return item;
      }),
    );
    root.querySelector(".boxes-empty").hidden = boxes.length > 0;
    root.querySelector(".boxes-heading").textContent = boxes.length ? `Your boxes (${boxes.length})` : "Your boxes";
    const shown = selected >= 0 ? boxes[selected].label : currentLabel(root);
    labels.forEach((label) => label.setAttribute("aria-pressed", label.dataset.label === shown ? "true" : "false"));
  };

  const save = (root, boxes, selected, message) => {
    parts(root).answer.value = JSON.stringify(boxes);
    if (selected >= 0) root.dataset.selected = selected;
    else delete root.dataset.selected;
    render(root);
    if (message) parts(root).status.textContent = message;
  };

  const setLabel = (root, label) => {
    root.dataset.current = label;
    const boxes = boxesOf(root);
    const selected = selectedOf(root);
    if (selected < 0) return save(root, boxes, -1, `New boxes get the label ${label}.`);
    boxes[selected].label = label;
    save(root, boxes, selected, `Box ${selected + 1} is now ${label}.`);
  };

  const remove = (root, index) => {
    const boxes = boxesOf(root);
    const [gone] = boxes.splice(index, 1);
    save(root, boxes, -1, `Box ${index + 1} (${gone.label}) removed.`);
  };

  const nudge = (root, dx, dy) => {
    const boxes = boxesOf(root);
    const selected = selectedOf(root);
    const box = boxes[selected];
    // Kept whole inside the image: a box pushed against an edge stops there.
    box.x = round(clamp(box.x + dx, 0, 1 - box.w));
    box.y = round(clamp(box.y + dy, 0, 1 - box.h));
    save(root, boxes, selected);
  };

  // The box a click at (x, y) means: the smallest one under it, so a box drawn inside another can be picked.
  const boxAt = (boxes, x, y) => {
    let found = -1;
    boxes.forEach((box, index) => {
      const inside = x >= box.x && x <= box.x + box.w && y >= box.y && y <= box.y + box.h;
      if (inside && (found < 0 || box.w * box.h < boxes[found].w * boxes[found].h)) found = index;
    });
    return found;
  };

  // Drawing: one pointer at a time, captured by the stage so a drag may end outside the image.
  let drag = null;
  const fractionAt = (image, event) => {
    const rect = image.getBoundingClientRect();
    return {
      x: clamp((event.clientX - rect.left) / rect.width, 0, 1),
      y: clamp((event.clientY - rect.top) / rect.height, 0, 1),
      rect,
    };
  };
  const spanned = (start, end) => {
    const x = round(Math.min(start.x, end.x));
    const y = round(Math.min(start.y, end.y));
    return {
      x,
      y,
      w: Math.min(round(Math.abs(end.x - start.x)), round(1 - x)),
      h: Math.min(round(Math.abs(end.y - start.y)), round(1 - y)),
    };
  };
  const veiled = (stage) => {
    const reveal = stage.querySelector(".boxes-reveal-input");
    return Boolean(reveal && !reveal.checked);
  };

  document.addEventListener("pointerdown", (event) => {
    const stage = event.target instanceof Element && event.target.closest(".boxes-stage");
    if (!stage || drag || event.button !== 0 || veiled(stage)) return;
    const form = stage.closest("form");
    if (form && form.dataset.sent === "1") return;
    const root = stage.closest(".boxes");
    if (!parts(root).image.naturalWidth) return; // not loaded (yet): nothing to measure against
    event.preventDefault(); // no text selection, no dragging the image away
    stage.setPointerCapture(event.pointerId);
    const start = fractionAt(parts(root).image, event);
    drag = { root, id: event.pointerId, start, startX: event.clientX, startY: event.clientY, draft: null };
  });

  document.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const moved = Math.hypot(event.clientX - drag.startX, event.clientY - drag.startY) >= CLICK_PX;
    if (!moved && !drag.draft) return;
    if (!drag.draft) {
      drag.draft = document.createElement("div");
      drag.draft.className = `box-shape box-draft ${colourOf(drag.root, currentLabel(drag.root))}`;
      parts(drag.root).surface.append(drag.draft);
    }
    place(drag.draft, spanned(drag.start, fractionAt(parts(drag.root).image, event)));
  });

  const finish = (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const { root, start, draft } = drag;
    drag = null;
    if (draft) draft.remove();
    if (event.type === "pointercancel") return;
    const end = fractionAt(parts(root).image, event);
    const boxes = boxesOf(root);
    if (!draft) {
      const index = boxAt(boxes, end.x, end.y);
      save(root, boxes, index, index >= 0 ? `Box ${index + 1} (${boxes[index].label}) selected.` : "");
      return;
    }
    const box = spanned(start, end);
    if (box.w * end.rect.width < MIN_SIDE_PX || box.h * end.rect.height < MIN_SIDE_PX) {
      save(root, boxes, selectedOf(root), "Too thin for a box: drag across the object, corner to corner.");
      return;
    }
    boxes.push({ label: currentLabel(root), ...box });
    save(root, boxes, boxes.length - 1, `Box ${boxes.length} drawn: ${currentLabel(root)}.`);
  };
  document.addEventListener("pointerup", finish);
  document.addEventListener("pointercancel", finish);

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element && event.target.closest(".boxes button");
    if (!target) return;
    const root = target.closest(".boxes");
    if (target.classList.contains("box-label")) setLabel(root, target.dataset.label);
    else if (target.classList.contains("box-pick")) {
      const index = Number(target.dataset.index);
      const boxes = boxesOf(root);
      save(root, boxes, index, `Box ${index + 1} (${boxes[index].label}) selected.`);
      root.querySelectorAll(".box-pick")[index].focus(); // the list was drawn again
    } else if (target.classList.contains("box-remove")) {
      const index = Number(target.dataset.index);
      remove(root, index);
      // The pressed button is gone: focus the one now in its place (or above it), as a list would.
      const left = root.querySelectorAll(".box-remove");
      (left[Math.min(index, left.length - 1)] || root.querySelector(".boxes-heading")).focus();
    }
  });

  const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  (window.fairlabelTypes = window.fairlabelTypes || {}).boxes = {
    keydown(event, form, { typing }) {
      const root = form.querySelector(".boxes");
      if (typing || !root || !root.querySelector(".boxes-stage")) return false;
      const selected = selectedOf(root);
      if (/^[1-9]$/.test(event.key)) {
        const label = root.querySelector(`.box-label[data-key="${event.key}"]`);
        if (!label) return false;
        setLabel(root, label.dataset.label);
        return true;
      }
      if (event.key === "Enter") {
        // On a button reached by the keyboard (Skip, Remove, a label) Enter presses that button, as everywhere
        // else; a button last clicked with the mouse keeps the focus but not the ring, and Enter submits.
        if (event.target instanceof Element && event.target.matches("button:focus-visible")) return false;
        form.requestSubmit(form.querySelector(".submit-btn"));
        return true;
      }
      if (selected < 0) return false; // the arrows scroll the page, as usual
      if (event.key === "Delete" || event.key === "Backspace") {
        remove(root, selected);
        return true;
      }
      if (event.key === "Escape") {
        save(root, boxesOf(root), -1);
        return true;
      }
      const arrow = ARROWS[event.key];
      if (!arrow) return false;
      const step = event.shiftKey ? STEP * 10 : STEP;
      nudge(root, arrow[0] * step, arrow[1] * step);
      return true;
    },
  };
})();
