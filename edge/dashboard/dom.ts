/**
 * The dashboard builds its UI from DOM nodes, never from HTML strings: text goes in as text nodes,
 * attributes through setAttribute, so a value from the API (a dataset name, an intent label, an
 * error message) can never become markup. The page's CSP (hashes, no 'unsafe-inline', Trusted Types)
 * would refuse the alternatives anyway.
 */

/** What `h` appends: nodes, or strings and numbers as text nodes; null, undefined and false are skipped. */
export type Child = Node | string | number | null | undefined | false;

/**
 * Attributes by name (`class`, `data-testid`, `colspan`, …; `true` sets an empty attribute, false,
 * null and undefined none) and event listeners as functions (`onclick`). Never `style` or an `on…`
 * attribute string: the CSP forbids both, so `h` refuses them.
 */
export type Props = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

/** `h("td", { class: "up" }, "+1.00")`: an element with its attributes, listeners and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (typeof value === "function") {
      if (!name.startsWith("on")) throw new Error(`h: ${name} is a function but no event`);
      element.addEventListener(name.slice(2), value);
      continue;
    }
    if (name === "style" || name.startsWith("on"))
      throw new Error(`h: no ${name} attribute (CSP): use a class, or the element's style properties`);
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, ...children);
  return element;
}

/** Appends children (see Child) to a parent. */
export function append(parent: ParentNode, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === "number" ? String(child) : child);
  }
}

/** The page's element for a selector; the dashboard's own markup (index.html) has them all. */
export function $<T extends HTMLElement = HTMLElement>(selector: string): T {
  const element = document.querySelector<T>(selector);
  if (!element) throw new Error(`dashboard: no ${selector} in the page`);
  return element;
}
