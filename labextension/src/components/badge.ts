import { h } from '../dom';

/** A run's status as a coloured badge: the same element in the runs list and the detail. */
export function statusBadge(status: string): HTMLElement {
  return h('span', { className: `aml-Badge aml-Status-${status}`, title: status }, status);
}
