/** A canvas's font until one is set (and after a font it cannot parse). */
const DEFAULT_FONT = '10px sans-serif';
const DIGITS = /[0-9]/g;

/**
 * Whether a cell's text fits its width, measured on a canvas (no layout read), so that only
 * the cells whose text overflows get `overflow: hidden` and the ellipsis. Every clipped cell is
 * a clip node and a paint chunk of its own in Blink: with one per cell, layerization
 * (PaintArtifactCompositor::Update) was the largest part of a scroll frame (benchmarks/RESULTS-lab.md).
 */
export class TextFit {
  /** The font of the cells (from their computed style, read with the columns' widths). */
  setFont(font: string): void {
    if (font && font !== this._font) {
      this._font = font;
      this._widths.clear();
      this._set = '';
      this._widest = Infinity;
    }
  }

  /** True when TEXT surely fits in WIDTH px (with a margin for rounding and font hinting);
   * false when it may not, or when nothing is measured yet (then the cell clips: safe). */
  fits(text: string, width: number): boolean {
    if (!this._font || !(width > 0)) {
      return false;
    }
    if (text.length === 0) {
      return true;
    }
    if (text.length * this._widest <= width) {   // surely fits: no measure (most short cells)
      return true;
    }
    const context = this._canvas();
    if (!context) {
      return false;
    }
    // every digit measured as the widest one: an upper bound, and one measure for all the
    // times and numbers of a shape ("88/88/8888, 88:88:88") instead of one per value
    const shape = text.replace(DIGITS, this._digit);
    let measured = this._widths.get(shape);
    if (measured === undefined) {
      measured = context.measureText(shape).width;
      if (this._widths.size > 5000) {          // bounded (names are many)
        this._widths.clear();
      }
      this._widths.set(shape, measured);
    }
    return measured * 1.05 + 2 <= width;
  }

  /** The canvas, its font the cells'; null when the canvas does not take that font (it keeps
   * its default then, and every measure would be wrong). */
  private _canvas(): CanvasRenderingContext2D | null {
    if (!this._context) {
      this._context = document.createElement('canvas').getContext('2d');
    }
    const context = this._context;
    if (context && !this._set) {
      context.font = this._font;
      this._set = context.font;
      this._usable = this._set !== DEFAULT_FONT || this._font.includes(DEFAULT_FONT);
      // an upper bound of a character's width: the widest of wide Latin glyphs and 1.3 em
      // (CJK is 1 em, most emoji up to ~1.25 em), with the same margin as a measured text
      const em = parseFloat(/(\d+(?:\.\d+)?)px/.exec(this._set)?.[1] || '0');
      const wide = Math.max(...['W', 'M', '@', '—', '…'].map(c => context.measureText(c).width), 1.3 * em);
      this._widest = this._usable && em > 0 ? wide * 1.05 + 2 : Infinity;
      const digits = '0123456789'.split('').map(d => [context.measureText(d).width, d] as const);
      this._digit = digits.reduce((a, b) => (b[0] > a[0] ? b : a))[1];
    }
    return this._usable ? context : null;
  }

  private _set = '';
  /** Px a character takes at most, with the margin (Infinity until the font is set). */
  private _widest = Infinity;
  private _usable = false;
  /** The widest digit in the font. */
  private _digit = '0';

  private _font = '';
  private _context: CanvasRenderingContext2D | null = null;
  private _widths = new Map<string, number>();
}
