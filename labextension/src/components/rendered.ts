import { Child, replaceChildren } from '../dom';

/**
 * A part of a component that is rebuilt only when what it shows changed: the caller passes a
 * key (a short string of the shown values) and a builder, and the DOM is left alone (focus,
 * scroll, hover) while the key is the same. The sidebar polls every second and the open run
 * every 300 ms; most polls change nothing, so most polls touch no DOM.
 */
export class Rendered {
  constructor(readonly node: HTMLElement) {}

  render(key: string, build: () => Child | Child[]): void {
    if (key === this._key) {
      return;
    }
    this._key = key;
    const built = build();
    replaceChildren(this.node, ...(Array.isArray(built) ? built : [built]));
  }

  /** Forget the key, so the next render rebuilds. */
  reset(): void {
    this._key = null;
  }

  private _key: string | null = null;
}
