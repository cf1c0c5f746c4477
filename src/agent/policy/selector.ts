// Label selectors as the API defines them: every matchLabels pair and every expression must hold,
// and an empty selector selects everything.
import type { LabelSelector } from './model.js';

export function selects(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !e.values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        // A pod without the key is "not in" any value set (the API's semantics).
        if (has && e.values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** For people: `app=web,tier in (a,b),!legacy`; "{}" for the empty selector (everything). */
export function showSelector(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${e.values.join(',')})`);
  }
  return parts.length === 0 ? '{}' : parts.join(',');
}

/** A canonical text for a selector: equal selectors (in any order of keys and values) get one key. */
export function selectorKey(sel: LabelSelector): string {
  const labels = Object.entries(sel.matchLabels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  const exprs = sel.matchExpressions.map((e) => `${e.key} ${e.operator} ${[...e.values].sort().join(',')}`).sort();
  return JSON.stringify([labels, exprs]);
}
