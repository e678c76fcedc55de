import { h, replaceChildren } from '../dom';
import { ILogPiece, RunDetailModel } from '../detailModel';

/** The most log characters the page holds (8 windows), and in how many blocks. */
const LOG_KEEP_CHARS = 8_000_000;
const LOG_MAX_BLOCKS = 600;

/** The text of one block; followed pieces are merged into the last block up to this size. */
const LOG_BLOCK_CHARS = 32_000;
/** A block's height until it is laid out (contain-intrinsic-size in style/index.css). */
const LOG_BLOCK_ESTIMATE_PX = 8000;

/** A piece of the log in the page: its blocks' text nodes and the byte of the file it starts at. */
interface ILogEntry {
  blocks: Text[];
  chars: number;
  start: number;
  earlier: boolean;
}

/**
 * The open run's log, bounded: the pieces its model reads are added as text nodes (never
 * re-rendered), followed ones at the end and "Load earlier" ones at the start. The sidebar's
 * detail and the run page's Log tab each hold one over their run's model.
 */
export class LogView {
  constructor(
    readonly detail: RunDetailModel,
    private readonly _fail: (error: unknown) => void
  ) {}

  /** Forget the text in the page (another run is shown). */
  reset(): void {
    replaceChildren(this.log);
    this._logInPage = [];
    this._logChars = 0;
    this._blocks = 0;
  }

  /**
   * Add the pieces read since the last render as text nodes (never re-rendering the log):
   * followed text at the end, "Load earlier" text at the start (the view kept where it was).
   * The page holds at most LOG_KEEP_CHARS characters in at most LOG_MAX_NODES nodes; followed
   * text beyond that drops the oldest, which "Load earlier" can bring back.
   */
  update(): void {
    const d = this.detail;
    const log = this.log;
    for (const piece of d.takeLog()) {
      if (piece.atStart) {
        this._prepend(piece);
      } else {
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        this._append(piece);
        if (atBottom) {
          this._toBottom(2);
        }
      }
    }
    const earlier = this.earlier as HTMLButtonElement;
    const full = this._logChars >= LOG_KEEP_CHARS;
    earlier.hidden = d.logStart <= 0;
    earlier.disabled = d.loadingEarlier || full;
    earlier.title = full ? `The page holds at most ${LOG_KEEP_CHARS / 1e6} M characters of log` : '';
    earlier.textContent = d.loadingEarlier ? 'Loading earlier…' : 'Load earlier';
  }

  /** Scroll to the end; again in the next FRAMES frames, once the blocks come into view are
   * laid out (their height was estimated until then). */
  private _toBottom(frames: number): void {
    const log = this.log;
    log.scrollTop = log.scrollHeight;
    if (frames > 0) {
      requestAnimationFrame(() => {
        if (log.scrollTop + log.clientHeight >= log.scrollHeight - LOG_BLOCK_ESTIMATE_PX) {
          this._toBottom(frames - 1);
        }
      });
    }
  }

  private _append(piece: ILogPiece): void {
    const last = this._logInPage[this._logInPage.length - 1];
    const tail = last && !last.earlier ? last.blocks[last.blocks.length - 1] : null;
    if (last && tail && tail.length + piece.text.length <= LOG_BLOCK_CHARS) {
      tail.appendData(piece.text);               // small followed pieces share one block
      last.chars += piece.text.length;
    } else {
      const entry = this._entry(piece);
      for (const block of entry.blocks) {
        this.log.appendChild(block.parentNode as Node);
      }
      this._logInPage.push(entry);
    }
    this._logChars += piece.text.length;
    this._blocks = this._logInPage.reduce((n, e) => n + e.blocks.length, 0);
    while ((this._logChars > LOG_KEEP_CHARS || this._blocks > LOG_MAX_BLOCKS) && this._logInPage.length > 1) {
      const oldest = this._logInPage.shift() as ILogEntry;
      this._logChars -= oldest.chars;
      this._blocks -= oldest.blocks.length;
      for (const block of oldest.blocks) {
        this.log.removeChild(block.parentNode as Node);
      }
      this.detail.forgetBefore(this._logInPage[0].start);
    }
  }

  private _prepend(piece: ILogPiece): void {
    const log = this.log;
    const entry = this._entry(piece);
    const height = log.scrollHeight;
    const first = log.firstChild;
    for (const block of entry.blocks) {
      log.insertBefore(block.parentNode as Node, first);
    }
    this._logInPage.unshift(entry);
    this._logChars += entry.chars;
    this._blocks += entry.blocks.length;
    log.scrollTop += log.scrollHeight - height;    // the lines read stay where they were
  }

  /**
   * A piece as blocks of at most LOG_BLOCK_CHARS, cut at lines: blocks out of view are not
   * laid out (CSS content-visibility), so a 1 MB window costs the page one screen of layout.
   */
  private _entry(piece: ILogPiece): ILogEntry {
    const blocks: Text[] = [];
    const text = piece.text;
    for (let at = 0; at < text.length;) {
      let end = Math.min(text.length, at + LOG_BLOCK_CHARS);
      if (end < text.length) {
        const newline = text.lastIndexOf('\n', end - 1);
        end = newline > at ? newline + 1 : end;
      }
      const node = document.createTextNode(text.slice(at, end));
      h('span', { className: 'aml-LogBlock' }).appendChild(node);
      blocks.push(node);
      at = end;
    }
    return { blocks, chars: text.length, start: piece.start, earlier: piece.atStart };
  }

  readonly earlier = h('button', {
    className: 'aml-LoadEarlier aml-Small', hidden: true,
    onclick: () => void this.detail.loadEarlier().catch(e => this._fail(e))
  }, 'Load earlier');
  readonly log = h('pre', { className: 'aml-Log' });
  private _logInPage: ILogEntry[] = [];
  private _blocks = 0;
  private _logChars = 0;
}
