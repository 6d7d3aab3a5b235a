// Building the page from data without ever parsing data as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && typeof value !== "string") el[name] = value;  // checked, value, disabled...
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// Up/Down arrows move the focus through a list of links (search results, menus).
export function arrowNavigation(container, selector, { fromInput = null } = {}) {
  const items = () => [...container.querySelectorAll(selector)];
  container.addEventListener("keydown", (event) => {
    const list = items();
    const at = list.indexOf(document.activeElement);
    if (at < 0) return;
    if (event.key === "ArrowDown" && at < list.length - 1) { list[at + 1].focus(); event.preventDefault(); }
    if (event.key === "ArrowUp") {
      if (at > 0) list[at - 1].focus(); else if (fromInput) fromInput.focus();
      event.preventDefault();
    }
    if (event.key === "Escape" && fromInput) { fromInput.focus(); event.preventDefault(); }
  });
  if (fromInput) {
    fromInput.addEventListener("keydown", (event) => {
      const first = items()[0];
      if (event.key === "ArrowDown" && first) { first.focus(); event.preventDefault(); }
      if (event.key === "Enter" && first && items().length === 1) { first.click(); event.preventDefault(); }
    });
  }
}
