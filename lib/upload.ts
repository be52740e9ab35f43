// A streamed request body: read from the caller's stream or async iterable and written into the
// engine as it comes, never more than HIGH_WATER bytes ahead of what has left for the server (the
// engine's Sent events), so a fast source and a slow server keep memory bounded on both sides.
import { chunkBytes } from './body';
import { CycleTLSError } from './errors';

const HIGH_WATER = 1024 * 1024;

export class UploadPump {
  private outstanding = 0;
  private wake: (() => void) | undefined;
  private stopped = false;
  /** Why the upload ended the request early: the source's own error, or a length it broke. */
  failure: unknown;

  constructor(
    private readonly write: (chunk: Uint8Array | null) => void,
    private readonly cancel: () => void,
  ) {}

  sent(bytes: number): void {
    this.outstanding -= bytes;
    if (this.outstanding <= HIGH_WATER / 2) this.release();
  }

  /** The request settled (answered early, failed, aborted): stop reading the source. */
  stop(): void {
    this.stopped = true;
    this.release();
  }

  private release(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async run(source: AsyncIterable<unknown>, declaredLength: number | undefined): Promise<void> {
    let total = 0;
    try {
      for await (const chunk of source) {
        if (this.stopped) break; // leaving the loop lets a Node stream go (return() destroys it)
        const bytes = chunkBytes(chunk);
        if (bytes.length === 0) continue;
        total += bytes.length;
        if (declaredLength !== undefined && total > declaredLength)
          throw lengthError(`more than ${declaredLength}`, declaredLength);
        this.write(bytes);
        this.outstanding += bytes.length;
        while (this.outstanding > HIGH_WATER && !this.stopped) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
        }
      }
      if (this.stopped) return;
      if (declaredLength !== undefined && total !== declaredLength)
        throw lengthError(`only ${total}`, declaredLength);
      this.write(null);
    } catch (err) {
      if (this.stopped) return;
      this.failure = err;
      this.cancel();
    }
  }
}

function lengthError(yielded: string, declared: number): CycleTLSError {
  return new CycleTLSError(
    'ERR_INVALID_OPTION',
    `the body stream yielded ${yielded} bytes, but its Content-Length says ${declared}`,
    'write',
  );
}
