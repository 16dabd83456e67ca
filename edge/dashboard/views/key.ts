/** The API key form, and the header's "key kept for this tab" with its Forget button. */
import { $ } from "../dom.ts";

/** The form instead of data; `message` says why the last key did not do (none: there is no key yet). */
export function showKeyForm(message: string | null): void {
  const box = $("#key-message");
  box.textContent = message ?? "";
  box.hidden = message === null;
  $("#keybar").hidden = false;
  $("#keystatus").hidden = true;
  $<HTMLInputElement>("#key").focus();
}

export function hideKeyMessage(): void {
  $("#key-message").hidden = true;
}

/** A key works: the form goes, the header says a key is kept. */
export function showKeyAccepted(): void {
  $("#keybar").hidden = true;
  $("#keystatus").hidden = false;
}

export function bindKeyForm(handlers: { onKey(key: string): void; onForget(): void }): void {
  $<HTMLFormElement>("#keyform").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $<HTMLInputElement>("#key");
    const key = input.value.trim();
    if (!key) return;
    input.value = "";
    handlers.onKey(key);
  });
  $<HTMLButtonElement>("#forget").addEventListener("click", () => handlers.onForget());
}
