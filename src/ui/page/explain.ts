// "why?": the pair of pods picked by clicks (or typed), a port and protocol, and the server's
// answer from the same code as `gingham policy explain`, shown as its text in #explain-result.
import type { ExplainAnswer } from '../model.js';
import { explainUrl, pickPair } from './rows.js';

export interface Explain {
  /** A pod was clicked (NS/NAME): fill from, then to. Returns the pair now picked. */
  click(key: string): { from: string; to: string };
  current(): { from: string; to: string };
}

export function createExplain(onPick: (from: string, to: string) => void): Explain {
  const from = document.getElementById('explain-from') as HTMLInputElement;
  const to = document.getElementById('explain-to') as HTMLInputElement;
  const port = document.getElementById('explain-port') as HTMLInputElement;
  const protocol = document.getElementById('explain-protocol') as HTMLSelectElement;
  const go = document.getElementById('explain-go') as HTMLButtonElement;
  const result = document.getElementById('explain-result') as HTMLElement;
  const pre = result.querySelector('pre') ?? result.appendChild(document.createElement('pre'));

  const changed = (): void => onPick(from.value.trim(), to.value.trim());
  from.addEventListener('input', changed);
  to.addEventListener('input', changed);

  const show = (allowed: boolean | undefined, text: string): void => {
    if (allowed === undefined) result.removeAttribute('data-allowed');
    else result.setAttribute('data-allowed', String(allowed));
    pre.textContent = text;
  };

  go.addEventListener('click', async () => {
    if (from.value.trim() === '' || to.value.trim() === '' || port.value.trim() === '') {
      show(undefined, 'Pick two pods (click one, then another) and a port.');
      return;
    }
    go.disabled = true;
    result.setAttribute('data-pending', 'true');
    try {
      const res = await fetch(explainUrl(from.value, to.value, port.value, protocol.value));
      if (!res.ok) {
        show(undefined, `error ${res.status}: ${(await res.text()).slice(0, 500)}`);
        return;
      }
      const answer = (await res.json()) as ExplainAnswer;
      show(answer.allowed, answer.text);
    } catch (e) {
      show(undefined, `error: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      result.removeAttribute('data-pending');
      go.disabled = false;
    }
  });

  return {
    click(key) {
      const pair = pickPair(from.value.trim(), to.value.trim(), key);
      from.value = pair.from;
      to.value = pair.to;
      return pair;
    },
    current: () => ({ from: from.value.trim(), to: to.value.trim() }),
  };
}
