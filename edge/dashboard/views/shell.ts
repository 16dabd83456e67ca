/** The page around the panels: the data area, the error banner and the ready flag tests wait for. */
import { $ } from "../dom.ts";

/** Shows or hides everything that is data (hidden while there is no usable key). */
export function showContent(visible: boolean): void {
  $("#content").hidden = !visible;
}

export function showErrorBanner(message: string): void {
  const box = $("#error");
  box.textContent = message;
  box.hidden = false;
}

export function hideErrorBanner(): void {
  $("#error").hidden = true;
}

/** The first load is over (with data or with the key form). */
export function markReady(): void {
  document.body.dataset.ready = "true";
}
